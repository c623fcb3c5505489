import { LineSplitter } from './line-splitter.js';

/** Longest stderr line kept whole; longer ones keep their first bytes and a note. */
export const STDERR_LINE_BYTES = 64 * 1024;
/** Characters of a line kept for status details and error messages. */
const SUMMARY_CHARS = 500;
const FIRST_LINES = 3;
const LAST_LINES = 20;
const MIN_SECRET_CHARS = 6;

// npm and npx chatter that precedes the real error ("npm warn config …", "npm notice New version …").
const NOISE = /^\s*npm (warn|notice)\b/i;

/**
 * The stderr of one downstream process, in bounded memory: its first meaningful lines (where the
 * cause of a failed start usually is — the last line is often npm's "A complete log of this run…")
 * and its last lines.
 */
export class StderrLog {
  onLine: ((line: string) => void) | undefined;
  private readonly secrets: readonly string[];
  private readonly first: string[] = [];
  private readonly last: string[] = [];
  private readonly lines = new LineSplitter({
    maxLineBytes: STDERR_LINE_BYTES,
    onLine: (l) => this.add(l.toString('utf8')),
    onOversize: (o) => {
      if (!o.ended) this.add(`${o.head.toString('utf8')}… (line truncated)`);
    },
  });

  /** `secrets`: values replaced by `[redacted]` in every line kept or handed on (shorter than 6 characters: left alone, too likely an ordinary word). */
  constructor(secrets: readonly string[] = []) {
    this.secrets = secrets.filter((s) => s.length >= MIN_SECRET_CHARS);
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  /** The first meaningful lines joined for a one-line detail, or undefined if there were none. */
  summary(): string | undefined {
    return this.first.length ? this.first.join(' | ') : undefined;
  }

  /** The last lines, oldest first. */
  tail(): readonly string[] {
    return this.last;
  }

  private add(raw: string): void {
    let line = raw;
    for (const s of this.secrets) if (line.includes(s)) line = line.split(s).join('[redacted]');
    this.onLine?.(line);
    const short = line.slice(0, SUMMARY_CHARS).trimEnd();
    this.last.push(short);
    if (this.last.length > LAST_LINES) this.last.shift();
    if (this.first.length < FIRST_LINES && short.trim() !== '' && !NOISE.test(short)) this.first.push(short.trim());
  }
}

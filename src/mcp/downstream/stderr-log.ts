import { LineSplitter } from './line-splitter.js';
import { scrubberOf } from './server-secrets.js';

/** Longest stderr line kept whole; longer ones keep their first bytes and a note. */
export const STDERR_LINE_BYTES = 64 * 1024;
/** Characters of a line kept for status details and error messages. */
const SUMMARY_CHARS = 500;
const FIRST_LINES = 3;
const LAST_LINES = 20;

// npm and npx chatter that precedes the real error ("npm warn config …", "npm notice New version …").
const NOISE = /^\s*npm (warn|notice)\b/i;

/**
 * The stderr of one downstream process, in bounded memory: its first meaningful lines (where the
 * cause of a failed start usually is — the last line is often npm's "A complete log of this run…")
 * and its last lines.
 */
export class StderrLog {
  onLine: ((line: string) => void) | undefined;
  private readonly scrub: (line: string) => string;
  private readonly first: string[] = [];
  private readonly last: string[] = [];
  private readonly lines = new LineSplitter({
    maxLineBytes: STDERR_LINE_BYTES,
    onLine: (l) => this.add(l.toString('utf8')),
    onOversize: (o) => {
      if (!o.ended) this.add(`${this.cutSecretStart(this.scrub(o.head.toString('utf8')))}… (line truncated)`);
    },
  });

  /** `secrets`: values replaced by `[redacted]` in every line kept or handed on (server-secrets.ts says which). */
  constructor(private readonly secrets: readonly string[] = []) {
    this.scrub = scrubberOf(secrets);
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  /** stderr ended: what followed its last newline is its last line. */
  end(): void {
    this.lines.end();
  }

  /** The first meaningful lines joined for a one-line detail, or undefined if there were none. */
  summary(): string | undefined {
    return this.first.length ? this.first.join(' | ') : undefined;
  }

  /** The last lines, oldest first. */
  tail(): readonly string[] {
    return this.last;
  }

  /**
   * A truncated line's head may end inside a secret, whose first characters no scrub would know
   * as one: they are cut, so a key that straddles the cut is not shown in part.
   */
  private cutSecretStart(head: string): string {
    let cut = 0;
    for (const secret of this.secrets) {
      for (let n = Math.min(secret.length - 1, head.length); n > cut; n--) {
        if (head.endsWith(secret.slice(0, n))) {
          cut = n;
          break;
        }
      }
    }
    return cut === 0 ? head : head.slice(0, head.length - cut);
  }

  /** One whole line, read elsewhere (what a server printed on stdout that is not JSON-RPC). */
  line(raw: string): void {
    this.add(raw);
  }

  private add(raw: string): void {
    const line = this.scrub(raw);
    this.onLine?.(line);
    const short = line.slice(0, SUMMARY_CHARS).trimEnd();
    this.last.push(short);
    if (this.last.length > LAST_LINES) this.last.shift();
    if (this.first.length < FIRST_LINES && short.trim() !== '' && !NOISE.test(short)) this.first.push(short.trim());
  }
}

/** What is known of a line that outgrew the cap: its first and last bytes and its full length. */
export interface OversizeLine {
  /** The first bytes of the line (up to EDGE_BYTES). */
  head: Buffer;
  /** The last bytes of the line (up to EDGE_BYTES); empty until the line has ended. */
  tail: Buffer;
  /** Bytes seen so far; the full length once `ended`. */
  bytes: number;
  /** Whether the newline that ends the line has arrived. */
  ended: boolean;
}

export interface LineSplitterOptions {
  /** Longest line kept, in bytes, without its newline. */
  maxLineBytes: number;
  onLine: (line: Buffer) => void;
  /**
   * Called twice for each oversize line: once when it outgrows the cap (`ended: false`) and once
   * when its newline arrives (`ended: true`). Its bytes are dropped, never buffered.
   */
  onOversize?: (line: OversizeLine) => void;
}

/** Bytes of an oversize line kept at each end: enough to read a JSON-RPC id and method. */
export const EDGE_BYTES = 1024;

/**
 * Splits a byte stream on `\n` with bounded memory: a line longer than `maxLineBytes` is reported
 * and skipped up to its newline, so the lines after it still arrive. Chunks of a long line are
 * gathered once at its end (the SDK's ReadBuffer concatenates on every chunk, quadratic in the
 * line's length, and gives up on the whole stream at 10 MiB).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private oversize: { head: Buffer; tail: Buffer; bytes: number } | undefined;

  constructor(private readonly opts: LineSplitterOptions) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk.subarray(start, end));
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /**
   * The stream ended: a last line without its newline is a line too (a server that writes
   * `Error: API_KEY is not set` with no newline and exits would otherwise say nothing).
   */
  end(): void {
    if (this.oversize || this.size > 0) this.endLine();
  }

  /** Bytes held for the current unfinished line. */
  get buffered(): number {
    return this.size;
  }

  clear(): void {
    this.parts = [];
    this.size = 0;
    this.oversize = undefined;
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.oversize) {
      this.oversize.bytes += piece.length;
      this.oversize.tail = lastBytes(piece.length >= EDGE_BYTES ? piece : Buffer.concat([this.oversize.tail, piece]));
      return;
    }
    if (this.size + piece.length <= this.opts.maxLineBytes) {
      this.parts.push(piece);
      this.size += piece.length;
      return;
    }
    const held = Buffer.concat([...this.parts, piece.subarray(0, EDGE_BYTES)]);
    this.oversize = { head: held.subarray(0, EDGE_BYTES), tail: lastBytes(piece), bytes: this.size + piece.length };
    // Copy the head: a subarray would keep the whole chunk it came from alive.
    this.oversize.head = Buffer.from(this.oversize.head);
    this.parts = [];
    this.size = 0;
    this.opts.onOversize?.({ head: this.oversize.head, tail: Buffer.alloc(0), bytes: this.oversize.bytes, ended: false });
  }

  private endLine(): void {
    if (this.oversize) {
      const { head, tail, bytes } = this.oversize;
      this.oversize = undefined;
      this.opts.onOversize?.({ head, tail, bytes, ended: true });
      return;
    }
    if (this.size === 0) return;
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    // CRLF senders: the \r belongs to the line ending, not to the message.
    const trimmed = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
    if (trimmed.length > 0) this.opts.onLine(trimmed);
  }
}

function lastBytes(b: Buffer): Buffer {
  return Buffer.from(b.length > EDGE_BYTES ? b.subarray(b.length - EDGE_BYTES) : b);
}

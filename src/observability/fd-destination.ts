import { write, writeSync } from 'node:fs';

/** How long a line may wait for others before it is written. */
const FLUSH_MS = 100;
/** A batch this large is written at once. */
const BATCH_BYTES = 4096;
/** A full pipe (EAGAIN) is tried again after this long; at exit, for at most EXIT_TRIES tries. */
const RETRY_MS = 10;
const EXIT_TRIES = 50;

/**
 * Where the logger's lines go when it writes to a file descriptor (stderr): asynchronous and
 * batched. A synchronous write per line blocked each call on the reader of stderr (0.37 ms of
 * every agent call on a small VM); an asynchronous write per line still cost a thread-pool write
 * and two wake-ups (~0.8 ms of hub CPU per agent call, `bench:agents` with logLevel "warn" against
 * "info"). Lines now leave together once BATCH_BYTES wait, or FLUSH_MS after the first waiting one
 * (a timer armed by a line, so an idle hub makes no system calls), and what waits is written
 * synchronously when the process exits, a fatal error included.
 *
 * Not pino.destination (sonic-boom): its exit flush retries a failed write every 100 ms until it
 * succeeds, so a hub whose stderr reader had gone (EPIPE) never finished exiting. Here a write
 * that fails for any reason but a full pipe ends logging: the lines have nowhere to go.
 */
/** Every destination alive, flushed once at exit by one listener (weakly held: a dropped logger goes). */
const live = new Set<WeakRef<FdDestination>>();
const forget = new FinalizationRegistry<WeakRef<FdDestination>>((ref) => live.delete(ref));
let listening = false;

function flushAllAtExit(): void {
  for (const ref of live) ref.deref()?.flushSync();
}

export class FdDestination {
  private pending = '';
  private writing = false;
  private broken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly fd: number) {
    const ref = new WeakRef(this);
    live.add(ref);
    forget.register(this, ref);
    if (!listening) {
      listening = true;
      process.on('exit', flushAllAtExit);
    }
  }

  /** pino's call, once per line. */
  write(line: string): boolean {
    if (this.broken) return true;
    this.pending += line;
    this.flushOrArm();
    return true;
  }

  /** Starts writing what waits (pino's `logger.flush`); `done` is called once it has left. */
  flush(done?: (err?: Error) => void): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.broken || this.pending === '') {
      done?.();
      return;
    }
    const batch = Buffer.from(this.pending);
    this.pending = '';
    this.writing = true;
    this.send(batch, done);
  }

  /** What waits, written before the process exits; a write in flight is left to finish on its own. */
  flushSync(): void {
    clearTimeout(this.timer);
    if (this.broken || this.pending === '') return;
    let rest = Buffer.from(this.pending);
    this.pending = '';
    for (let tries = 0; rest.length > 0 && tries < EXIT_TRIES; tries++) {
      try {
        rest = rest.subarray(writeSync(this.fd, rest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
      }
    }
  }

  /** A full batch leaves now; a smaller one within FLUSH_MS of its first line. */
  private flushOrArm(): void {
    if (this.pending.length >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private send(buf: Buffer, done?: (err?: Error) => void): void {
    write(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err?.code === 'EAGAIN') {
        setTimeout(() => this.send(buf, done), RETRY_MS).unref();
        return;
      }
      if (err) {
        this.broken = true;
        this.pending = '';
        this.writing = false;
        done?.(err);
        return;
      }
      if (n < buf.length) {
        this.send(buf.subarray(n), done);
        return;
      }
      this.writing = false;
      done?.();
      // What came while this batch was being written.
      if (this.pending !== '') this.flushOrArm();
    });
  }
}

/**
 * Callers of one key in this process, served one at a time in order. Only the head polls the
 * shared buckets: 100 queued writes of one connection make one poll per refill, not 100 (each of
 * which would find the token taken by the first). An aborted caller leaves at once; its place passes on.
 */
export class Line {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  get size(): number {
    return this.pending;
  }

  run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    signal.throwIfAborted();
    const prev = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    this.tail = prev.then(() => mine);
    this.pending++;
    const done = () => {
      this.pending--;
      release();
    };
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void prev.then(async () => {
        try {
          if (!signal.aborted) resolve(await fn());
        } catch (err) {
          reject(err);
        } finally {
          signal.removeEventListener('abort', onAbort);
          done();
        }
      });
    });
  }
}

/**
 * Callers of one key in this process, served one at a time in order. Only the head polls Redis:
 * 100 queued writes of one connection make one poll per refill, not 100 (each of which would
 * find the token taken by the first). An aborted caller leaves at once; its place passes on.
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

/** At most `limit` held at once, waiters served in order; a release is idempotent. */
export class Slots {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  get busy(): boolean {
    return this.held > 0 || this.waiters.length > 0;
  }

  take(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    const grant = (): (() => void) => {
      this.held++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.held--;
        this.waiters.shift()?.();
      };
    };
    if (this.held < this.limit) return Promise.resolve(grant());
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(grant());
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }
}

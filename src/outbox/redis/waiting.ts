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

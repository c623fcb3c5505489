import type { Release, TokenBucket } from './bucket.js';

interface Waiter {
  resolve(release: Release): void;
}

/**
 * The per-app bucket, served to connections in turn. Each waiter asks the bucket for one token,
 * but a token that comes up goes to the connection whose turn it is, not to whoever asked first:
 * with one FIFO queue, a connection that queued 100 requests would make the next connection's
 * single request wait behind all 100. Here that request waits at most one token per connection
 * ahead of it in the rotation (round-robin, as a fair queue per flow would).
 */
export class AppTurns {
  /** Queues per connection; the Map's order is the rotation (a served connection goes last). */
  private queues = new Map<string, Waiter[]>();

  constructor(private readonly bucket: TokenBucket) {}

  /** Resolves with a release when a token of the app bucket is this connection's. */
  wait(connection: string, signal: AbortSignal): Promise<Release> {
    signal.throwIfAborted();
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const q = this.queues.get(connection);
        const i = q?.indexOf(waiter) ?? -1;
        if (q && i >= 0) {
          q.splice(i, 1);
          if (q.length === 0) this.queues.delete(connection);
        }
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const q = this.queues.get(connection);
      if (q) q.push(waiter);
      // A connection that had nothing waiting goes first: the ones behind it were served before.
      else this.queues = new Map([[connection, [waiter]], ...this.queues]);
      // The token is not withdrawn on abort: it serves the next waiter in turn, or goes back.
      void this.bucket.take().then((release) => this.hand(release));
    });
  }

  private hand(release: Release): void {
    for (const [connection, q] of this.queues) {
      const next = q.shift();
      this.queues.delete(connection);
      if (q.length > 0) this.queues.set(connection, q);
      if (next) {
        next.resolve(release);
        return;
      }
    }
    // Every waiter that asked for this token went away.
    release();
    this.bucket.refund();
  }
}

import type { Release, TokenBucket } from './bucket.js';
import { Rotation } from './rotation.js';

interface Waiter {
  resolve(release: Release): void;
}

/**
 * The per-app bucket, served to connections in turn. Each waiter asks the bucket for one token,
 * but a token that comes up goes to the connection whose turn it is (./rotation.ts), not to
 * whoever asked first: with one FIFO queue, a connection that queued 100 requests would make the
 * next connection's single request wait behind all 100.
 */
export class AppTurns {
  private readonly waiting = new Rotation<Waiter>();

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
        this.waiting.remove(connection, waiter);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(connection, waiter);
      // The token is not withdrawn on abort: it serves the next waiter in turn, or goes back.
      void this.bucket.take().then((release) => this.hand(release));
    });
  }

  private hand(release: Release): void {
    const next = this.waiting.next();
    if (next) {
      next.resolve(release);
      return;
    }
    // Every waiter that asked for this token went away.
    release();
    this.bucket.refund();
  }
}

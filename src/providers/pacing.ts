/**
 * Where rate limiting plugs into the provider client. Every attempt (retries and the resend after a
 * refresh included) waits for `acquire` first, so a token bucket sees each request the provider
 * will count. The outbox's bottleneck groups implement this per key; the default waits for nothing.
 */
export interface Pacer {
  /**
   * Resolves when a request under `key` may be sent; rejects with the signal's reason on abort.
   * With `withinMs`, a pacer that knows the token will come later than that (a bucket paused until
   * a provider's reset) rejects at once with a PacingTooLong naming the wait.
   */
  acquire(key: string, signal: AbortSignal, withinMs?: number): Promise<void>;
  /**
   * Called once after every attempt `acquire` let through: the answer's status and headers (a
   * bucket follows Retry-After and X-RateLimit-*), or undefined when none came (network failure,
   * timeout, abort). Either way the attempt's concurrency slot is free again.
   */
  observe?(key: string, answer: PacedAnswer | undefined): void;
}

export interface PacedAnswer {
  status: number;
  headers: Headers;
  /**
   * A wait the answer names in its body where its headers name none (GitHub's secondary limit:
   * "wait a few minutes", a minute at least by its docs): the bucket holds back as for a Retry-After.
   */
  bodyWaitMs?: number;
}

export const noPacing: Pacer = {
  acquire: async (_key, signal) => signal.throwIfAborted(),
};

/** The pacing token would come later than the caller may wait: in `waitMs` when known. */
export class PacingTooLong extends Error {
  constructor(readonly waitMs: number | undefined) {
    super(waitMs === undefined ? 'no pacing token came in time' : `the next pacing token comes in ${waitMs} ms`);
    this.name = 'PacingTooLong';
  }
}

/**
 * `acquire` for a caller that waits for the answer: refused at once past `withinMs` when the pacer
 * knows the wait, and given up after `giveUpMs` when it cannot tell in advance (a long queue, a
 * bucket shared with other processes). A real timer, as the request's deadline is (./deadline.ts):
 * the injected sleep is the retries' and may not wait at all.
 */
export async function acquireWithin(pacer: Pacer, key: string, signal: AbortSignal, withinMs: number, giveUpMs: number): Promise<void> {
  if (pacer === noPacing) return pacer.acquire(key, signal);
  const ctl = new AbortController();
  const follow = () => ctl.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  const timer = setTimeout(() => ctl.abort(new PacingTooLong(undefined)), giveUpMs);
  try {
    await pacer.acquire(key, ctl.signal, withinMs);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', follow);
  }
}

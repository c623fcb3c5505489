/**
 * Where rate limiting plugs into the provider client. Every attempt (retries and the resend after a
 * refresh included) waits for `acquire` first, so a token bucket sees each request the provider
 * will count. The outbox's bottleneck groups implement this per key; the default waits for nothing.
 */
export interface Pacer {
  /** Resolves when a request under `key` may be sent; rejects with the signal's reason on abort. */
  acquire(key: string, signal: AbortSignal): Promise<void>;
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
}

export const noPacing: Pacer = {
  acquire: async (_key, signal) => signal.throwIfAborted(),
};

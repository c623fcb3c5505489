/**
 * Where rate limiting plugs into the provider client. Every attempt (retries and the resend after a
 * refresh included) waits for `acquire` first, so a token bucket sees each request the provider
 * will count. The outbox's bottleneck groups implement this per key; the default waits for nothing.
 */
export interface Pacer {
  /** Resolves when a request under `key` may be sent; rejects with the signal's reason on abort. */
  acquire(key: string, signal: AbortSignal): Promise<void>;
}

export const noPacing: Pacer = {
  acquire: async (_key, signal) => signal.throwIfAborted(),
};

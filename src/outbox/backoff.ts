/** p-retry's shape (minTimeout × factor^(attempt − 1), randomised ×1–2, capped), in seconds to minutes: a write's caller is waiting. */
export interface BackoffOptions {
  minMs: number;
  factor: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1_000, factor: 2, maxMs: 300_000 };

/**
 * The delay before the next send after `attempt` failed ones (1-based), computed as p-retry does
 * with `randomize: true`, but pure: `random` is injected, and the worker stores `now + delay` as the
 * row's next_attempt_at instead of sleeping in memory, so a retry survives a restart. p-retry's own
 * loop is not used for that reason. With the defaults and 8 attempts the waits sum to 2–4 min.
 */
export function backoffMs(attempt: number, random: () => number = Math.random, o: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  const jitter = 1 + Math.min(1, Math.max(0, random()));
  return Math.min(o.maxMs, Math.round(o.minMs * o.factor ** (n - 1) * jitter));
}

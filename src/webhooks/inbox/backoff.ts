/** p-retry's defaults shape (minTimeout × factor^(attempt − 1), capped), tuned for providers' outages: minutes, not seconds. */
export interface BackoffOptions {
  minMs: number;
  factor: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 2_000, factor: 3, maxMs: 3_600_000 };

/**
 * The delay before the next attempt after `attempt` failed ones (1-based), as p-retry computes it
 * without randomisation. Pure, so the worker stores `now + delay` as the row's next_attempt_at and
 * a test reads the schedule off an injected clock. With the defaults, 8 attempts span about 36 min.
 */
export function backoffMs(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.min(o.maxMs, Math.round(o.minMs * o.factor ** (n - 1)));
}

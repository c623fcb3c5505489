/** Restart delay after the n-th consecutive failure (0-based): 250 ms doubling to a 30 s cap. */
export function restartDelay(attempt: number, opts: { baseMs?: number; capMs?: number; random?: () => number } = {}): number {
  const base = opts.baseMs ?? 250;
  const cap = opts.capMs ?? 30_000;
  const exp = Math.min(cap, base * 2 ** Math.min(attempt, 20));
  // Up to 20 % jitter so several crashing servers do not restart in lockstep.
  return Math.round(exp * (1 - 0.2 * (opts.random ?? Math.random)()));
}

/** A connection that stayed up this long resets the failure count. */
export const STABLE_AFTER_MS = 30_000;

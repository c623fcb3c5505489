/** An empty poll doubles the interval up to this (issue 8): a quiet account costs 4 requests an hour. */
export const MAX_INTERVAL_MS = 15 * 60_000;
/** ± this share of the interval, so pollers linked at one instant do not stay in step. */
export const JITTER = 0.1;
/** Consecutive failed runs before a poller is stalled. */
export const STALL_AFTER_FAILURES = 5;
/** Consecutive pages whose cursor did not move while items kept coming before a poller is stalled. */
export const STALL_AFTER_STUCK_PAGES = 3;

/** What the schedule keeps between runs. */
export interface ScheduleState {
  emptyPolls: number;
  failures: number;
}

/**
 * How a run ended, as far as the schedule cares: new events, nothing new, an error, or `more`:
 * the run stopped with pages left to read (the provider asked for a pause), so the next run comes
 * as soon as the pause allows.
 */
export type RunOutcome = 'activity' | 'empty' | 'failed' | 'more';

export interface NextRun {
  state: ScheduleState;
  /** The interval before jitter, kept for reports. */
  intervalMs: number;
  delayMs: number;
}

/**
 * The next run after `outcome`, a pure function of the feed's base interval and the state:
 * activity resets to the base; each empty poll doubles it (base·2^n) to the cap; failures back
 * off the same way on their own counter. `floorMs` is what the provider asked for (Retry-After,
 * or until its rate budget resets): the delay is never shorter. `random` is in [0, 1).
 */
export function nextRun(baseMs: number, prev: ScheduleState, outcome: RunOutcome, floorMs: number, random: () => number): NextRun {
  const cap = Math.max(MAX_INTERVAL_MS, baseMs);
  const backoff = (n: number) => Math.min(baseMs * 2 ** Math.min(n, 30), cap);
  const state: ScheduleState =
    outcome === 'activity'
      ? { emptyPolls: 0, failures: 0 }
      : outcome === 'empty'
        ? { emptyPolls: prev.emptyPolls + 1, failures: 0 }
        : outcome === 'failed'
          ? { emptyPolls: prev.emptyPolls, failures: prev.failures + 1 }
          : { emptyPolls: 0, failures: prev.failures };
  const intervalMs = outcome === 'activity' ? baseMs : outcome === 'empty' ? backoff(state.emptyPolls) : outcome === 'failed' ? backoff(state.failures) : 0;
  const jittered = intervalMs * (1 + (random() * 2 - 1) * JITTER);
  return { state, intervalMs, delayMs: Math.round(Math.max(jittered, floorMs)) };
}

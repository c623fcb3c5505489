import type { Timers } from './pacing/bucket.js';

/**
 * A claimed job still waiting for its pacing token after this long gives its slot back (queued, no
 * attempt) and is claimed again in its turn: a bucket paused for an hour (a provider's Retry-After,
 * GitHub's spent hourly window) otherwise kept every slot the worker had given its jobs, and the
 * writes of every other integration and user waited in the queue until it reopened.
 */
export const TOKEN_WAIT_MS = 15_000;

/** A send slot of the running worker: its abort, and whether its job began to commit `sending`. */
export interface TokenSlot {
  ac: AbortController;
  marked: boolean;
}

/**
 * Aborts the slot's send after `ms` unless its job began to commit `sending` by then (its token
 * came): the worker then releases the job as a stop releases it. `fired` says whether it did.
 * On the worker's timers (unref'd by default), so a test steps them on its own clock.
 */
export function giveBackAfter(slot: TokenSlot, ms: number, jobId: string, timers: Timers): { readonly fired: boolean; clear(): void } {
  let fired = false;
  const timer = timers.setTimeout(() => {
    if (slot.marked || slot.ac.signal.aborted) return;
    fired = true;
    slot.ac.abort(new Error(`job ${jobId} waited ${ms} ms for its pacing token; its slot is given back`));
  }, ms);
  return {
    get fired() {
      return fired;
    },
    clear: () => timers.clearTimeout(timer),
  };
}

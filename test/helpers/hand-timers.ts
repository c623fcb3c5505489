import type { manualClock } from '../../src/clock.js';
import type { Timers } from '../../src/outbox/pacing/bucket.js';

/** Timers a test fires by hand, beside the manual clock: the outbox worker's and its lease's. */
export function handTimers() {
  const due = new Map<number, { fn: () => void; ms: number }>();
  let n = 0;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      due.set(++n, { fn, ms });
      return n;
    },
    clearTimeout: (h) => {
      due.delete(h as number);
    },
  };
  return {
    timers,
    /** Advances the clock by the shortest wait pending and fires what is due by then; returns that wait. */
    step(clock: ReturnType<typeof manualClock>): number {
      const ms = Math.min(...[...due.values()].map((d) => d.ms));
      clock.advance(ms);
      const fns = [...due.entries()].filter(([, d]) => d.ms === ms);
      for (const [id] of fns) due.delete(id);
      for (const [, d] of fns) d.fn();
      return ms;
    },
    /** Fires every pending timer, whatever its wait, without moving the clock. */
    fire(): void {
      const fns = [...due.values()];
      due.clear();
      for (const d of fns) d.fn();
    },
    get pending() {
      return due.size;
    },
  };
}

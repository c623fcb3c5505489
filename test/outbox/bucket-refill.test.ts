/**
 * A bucket refills from the first answer to a request it granted, not from its first take: the
 * provider's bucket starts refilling only when the first requests arrive there, so one that
 * refilled from the take would run ahead of it by the requests' delay. On an injected clock and
 * timers, with no sleeps. And a late refill tick does not hand out its whole lump while requests
 * granted before it may still be on their way.
 */
import { afterEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createBucketPacer, type BucketPacer } from '../../src/outbox/pacing/index.js';
import { FIRST_ANSWER_GRACE_MS, type Timers } from '../../src/outbox/pacing/bucket.js';

/** Timers that fire only when the test moves the clock past them. */
function steppedTimers(clock: ReturnType<typeof manualClock>) {
  let pending: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const t = { at: clock.now() + ms, fn, id: ++ids };
      pending.push(t);
      return t.id;
    },
    clearTimeout: (id) => {
      pending = pending.filter((t) => t.id !== id);
    },
  };
  return {
    timers,
    async advance(ms: number) {
      clock.advance(ms);
      const due = pending.filter((t) => t.at <= clock.now());
      pending = pending.filter((t) => t.at > clock.now());
      for (const t of due) t.fn();
      await settle();
    },
  };
}

/** Lets bottleneck's own work run: it hands a token out on a zero-delay timer of its own, a few turns after it is added. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

let pacer: BucketPacer | undefined;
afterEach(() => pacer?.stop());

it('accrues nothing until a granted request is answered, then at its rate from the answer', async () => {
  const clock = manualClock();
  const t = steppedTimers(clock);
  // Burst 2: one token at hand (the bucket holds one back), then one per 100 ms.
  pacer = createBucketPacer({ limits: () => ({ perConnection: { perSecond: 10, burst: 2 } }), clock, timers: t.timers });
  const p = pacer;
  const signal = new AbortController().signal;
  await p.acquire('acme:c1', signal);
  let granted = false;
  void p.acquire('acme:c1', signal).then(() => (granted = true));
  // A whole second with the first request unanswered (its way to the provider is slow): nothing accrued.
  await t.advance(1_000);
  expect(granted).toBe(false);
  p.observe('acme:c1', { status: 200, headers: new Headers() });
  await settle();
  expect(granted).toBe(false);
  await t.advance(99);
  expect(granted).toBe(false);
  await t.advance(1);
  expect(granted).toBe(true);
});

it('a late refill tick grants its lump only up to what the requests in flight leave of the burst', async () => {
  const clock = manualClock();
  const t = steppedTimers(clock);
  // Burst 6: four tokens at hand (two held back), then one per 100 ms.
  pacer = createBucketPacer({ limits: () => ({ perConnection: { perSecond: 10, burst: 6 } }), clock, timers: t.timers });
  const p = pacer;
  const signal = new AbortController().signal;
  for (let i = 0; i < 4; i++) await p.acquire('acme:c1', signal);
  let granted = 0;
  for (let i = 0; i < 4; i++) void p.acquire('acme:c1', signal).then(() => granted++);
  // One answered, three still on their way: the tick due in 100 ms comes a second late, with ten tokens accrued.
  p.observe('acme:c1', { status: 200, headers: new Headers() });
  await settle();
  await t.advance(1_000);
  expect(granted).toBe(1);
  // As the ones in flight are answered, the next ticks serve the rest at the rate.
  for (let i = 0; i < 3; i++) p.observe('acme:c1', { status: 200, headers: new Headers() });
  await t.advance(100);
  expect(granted).toBe(2);
});

it('starts refilling by the grace after it was made when the first answer is slow, as the shared buckets do', async () => {
  const clock = manualClock();
  const t = steppedTimers(clock);
  // Burst 1: one token at hand, then one per second. The first request hangs (a slow write, up to its timeout).
  pacer = createBucketPacer({ limits: () => ({ perApp: { perSecond: 1, burst: 1 } }), clock, timers: t.timers });
  const p = pacer;
  const signal = new AbortController().signal;
  await p.acquire('acme:alice', signal);
  let granted = false;
  void p.acquire('acme:bob', signal).then(() => (granted = true));
  // Within the grace nothing accrues: the provider may not have counted the first request yet.
  await t.advance(FIRST_ANSWER_GRACE_MS - 1);
  expect(granted).toBe(false);
  // From the grace on it accrues at its rate, however long the first answer takes (it took 30 s before).
  await t.advance(1);
  expect(granted).toBe(false);
  await t.advance(1_000);
  expect(granted).toBe(true);
});

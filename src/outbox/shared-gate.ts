import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { RateLimitConfig } from '../definition/rate-limit.js';
import type { Logger } from '../observability/logger.js';
import { type PacedAnswer, PacingTooLong } from '../providers/pacing.js';
import { type BucketState, realTimers, type Timers } from './pacing/index.js';
import { adjustmentOf, type BucketRef, type SharedBuckets, splitKey } from './pacing/shared.js';
import { SharedTurns } from './pacing/shared-turns.js';
import type { PacerWithState } from './redis/shapes.js';

export interface SharedGateOptions {
  /** The `rateLimit` block of an integration; undefined: that integration is not paced. */
  limits(integration: string): RateLimitConfig | undefined;
  clock: Clock;
  timers?: Timers;
  log?: Logger;
}

/**
 * The in-process pacer, then the buckets every process on the store shares: a request goes once
 * its own process's pacer lets it (in turn, FIFO per connection, within `concurrency`) and the
 * shared buckets grant it a token, taken in the same turns (./pacing/shared-turns.ts), so
 * processes on one data dir together keep to the declared rate while each keeps its own order and
 * fairness. Alone, the shared buckets see the same requests as
 * the process's own and grant at once. A store that cannot be asked (locked past its busy timeout)
 * is logged and passed: the process's own pacing still holds.
 */
export function withSharedBuckets(local: PacerWithState, buckets: SharedBuckets | undefined, o: SharedGateOptions): PacerWithState {
  if (buckets === undefined) return local;
  const turns = new SharedTurns(buckets, o.timers ?? realTimers);
  /** Granted here and not yet answered, per shared bucket key. */
  const inflight = new Map<string, number>();
  /** The shared buckets of granted requests per pace key, oldest first: `observe` ends the oldest. */
  const held = new Map<string, BucketRef[][]>();
  /** Buckets known to have heard an answer: observing them again is a no-op unless the answer adjusts. */
  const heard = new Set<string>();
  const stopped = new AbortController();
  const pending = new Set<Promise<void>>();

  /** A key's shared buckets: its connection's (when one is declared) and its app's. */
  const bucketsOf = (key: string): { connection?: BucketRef; app?: BucketRef } => {
    const { integration, connection } = splitKey(key);
    const cfg = o.limits(integration);
    if (cfg === undefined) return {};
    // Keys as JSON arrays: unambiguous whatever the names hold, and text any store takes (PostgreSQL refuses NUL).
    return {
      // The app's own credential (`<integration>:app`: an API key from config) is a connection too.
      ...(cfg.perConnection ? { connection: { key: JSON.stringify(['c', integration, connection]), spec: cfg.perConnection } } : {}),
      ...(cfg.perApp ? { app: { key: JSON.stringify(['a', integration]), spec: cfg.perApp } } : {}),
    };
  };
  /** The connection's first: a provider's answer speaks of it (as in the in-process pacer). */
  const refsOf = (key: string): BucketRef[] => {
    const { connection, app } = bucketsOf(key);
    return [connection, app].filter((r): r is BucketRef => r !== undefined);
  };

  const count = (refs: readonly BucketRef[], by: number) => {
    for (const r of refs) {
      const n = (inflight.get(r.key) ?? 0) + by;
      if (n > 0) inflight.set(r.key, n);
      else inflight.delete(r.key);
    }
  };

  // Once a minute at most: a store locked for a while would otherwise log every paced request.
  let warnedAt = Number.NEGATIVE_INFINITY;
  const unavailable = (err: unknown, key: string) => {
    const now = o.clock.now();
    if (now - warnedAt < 60_000) return;
    warnedAt = now;
    o.log?.warn({ key, err: describeError(err) }, 'the shared rate-limit buckets could not be read; this process paces on its own meanwhile');
  };

  return {
    async acquire(key, signal, withinMs) {
      // A call that may wait only so long is refused at once by this process's own bucket when it knows the wait is longer.
      await local.acquire(key, signal, withinMs);
      const { connection: own, app } = bucketsOf(key);
      const refs = [own, app].filter((r): r is BucketRef => r !== undefined);
      if (refs.length > 0) {
        try {
          // Another process may have heard the pause: a call that may wait only so long is refused by the shared buckets too.
          await turns.take(splitKey(key).connection, own, app, AbortSignal.any([signal, stopped.signal]), withinMs);
        } catch (err) {
          if (err instanceof PacingTooLong) {
            local.observe?.(key, undefined);
            throw err;
          }
          if (signal.aborted || stopped.signal.aborted) {
            // Let through locally and never sent: the local grant goes back.
            local.observe?.(key, undefined);
            throw signal.aborted ? signal.reason : err;
          }
          unavailable(err, key);
        }
      }
      count(refs, 1);
      const list = held.get(key) ?? [];
      list.push(refs);
      held.set(key, list);
    },

    /** Returns the shared buckets' adjustment (for tests and shutdown); the client does not wait for it, and it never rejects. */
    observe(key, answer: PacedAnswer | undefined): Promise<void> {
      local.observe?.(key, answer);
      const list = held.get(key);
      const refs = list?.shift() ?? refsOf(key);
      if (list?.length === 0) held.delete(key);
      if (list !== undefined) count(refs, -1);
      if (refs.length === 0) return Promise.resolve();
      const adj = answer === undefined ? {} : adjustmentOf(answer, inflight.get(refs[0]!.key) ?? 0, o.clock);
      if (Object.keys(adj).length === 0 && refs.every((r) => heard.has(r.key))) return Promise.resolve();
      const p = buckets
        .observe(refs, adj)
        .then(() => {
          for (const r of refs) heard.add(r.key);
        })
        .catch((err: unknown) => unavailable(err, key))
        .finally(() => pending.delete(p));
      pending.add(p);
      return p;
    },

    /** The shared buckets as they stand (what every process is held to), else this process's own. */
    async state(key) {
      const { connection, app } = bucketsOf(key);
      const refs = [connection, app].filter((r): r is BucketRef => r !== undefined);
      if (refs.length === 0) return local.state(key);
      let states: BucketState[];
      try {
        states = (await buckets.state(refs)).map(({ perSecond, capacity, pausedUntil }) => ({ perSecond, capacity, pausedUntil }));
      } catch (err) {
        unavailable(err, key);
        return local.state(key);
      }
      return { ...(connection ? { connection: states[0]! } : {}), ...(app ? { app: states.at(-1)! } : {}) };
    },

    async stop() {
      stopped.abort(new Error('the pacer stopped'));
      await Promise.all([...pending]);
      await local.stop();
    },
  };
}

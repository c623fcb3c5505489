import { systemClock, type Clock } from '../../clock.js';
import type { RateLimitConfig } from '../../definition/rate-limit.js';
import { PacingTooLong, type Pacer, type PacedAnswer } from '../../providers/pacing.js';
import { realTimers, TokenBucket, type BucketState, type Release, type Timers } from './bucket.js';
import { AppTurns } from './turns.js';
import { adjustmentOf, splitKey } from './shared.js';

export interface BucketPacerOptions {
  /** The `rateLimit` block of an integration; undefined: that integration is not paced. */
  limits(integration: string): RateLimitConfig | undefined;
  clock?: Clock;
  timers?: Timers;
}

export interface BucketPacer extends Pacer {
  observe(key: string, answer: PacedAnswer | undefined): void;
  /** The bucket behind a key as it stands (rate, capacity, pause), for /readyz details and tests. */
  state(key: string): { connection?: BucketState; app?: BucketState } | undefined;
  /** Stops every refill timer and drops waiting requests (shutdown). */
  stop(): void;
}

interface AppLimiter {
  bucket: TokenBucket;
  turns: AppTurns;
}

/**
 * The provider client's pacer on token buckets: for `<integration>:<connection>` a request takes
 * a token of that connection's bucket (`perConnection`, with `concurrency`) and then one of the
 * integration's app bucket (`perApp`), served in turn across connections. `<integration>:app`
 * (calls made with the app's own credentials: an integration called with a key from config, a
 * poller with app credentials) is that credential's connection: it takes from its own
 * `perConnection` bucket too, else an API-key integration declaring only `perConnection` went
 * unpaced, every request sent at once into the provider's 429s.
 * Reads and writes alike: the client acquires before every attempt, so reads spend the same
 * budget the writes need. `observe` adjusts the buckets from what the provider answered.
 */
export function createBucketPacer(opts: BucketPacerOptions): BucketPacer {
  const clock = opts.clock ?? systemClock;
  const timers = opts.timers ?? realTimers;
  const connections = new Map<string, TokenBucket>();
  const apps = new Map<string, AppLimiter | null>();
  /** Releases of granted requests per key, oldest first: `observe` ends the oldest. */
  const held = new Map<string, Release[]>();

  const appOf = (integration: string, cfg: RateLimitConfig): AppLimiter | undefined => {
    let a = apps.get(integration);
    if (a === undefined) {
      if (cfg.perApp === undefined) a = null;
      else {
        const bucket = new TokenBucket(cfg.perApp, undefined, clock, timers);
        a = { bucket, turns: new AppTurns(bucket) };
      }
      apps.set(integration, a);
    }
    return a ?? undefined;
  };

  const connectionOf = (key: string, cfg: RateLimitConfig): TokenBucket | undefined => {
    if (cfg.perConnection === undefined && cfg.concurrency === undefined) return undefined;
    let b = connections.get(key);
    if (b === undefined) {
      b = new TokenBucket(cfg.perConnection, cfg.concurrency, clock, timers);
      connections.set(key, b);
    }
    return b;
  };

  /** The bucket a provider's answer speaks of: the connection's when it has one, else the app's. */
  const answeredBy = (key: string): TokenBucket | undefined => {
    const { integration } = splitKey(key);
    const c = connections.get(key);
    if (c?.current.perSecond) return c;
    return apps.get(integration)?.bucket;
  };

  return {
    async acquire(key, signal, withinMs) {
      signal.throwIfAborted();
      const { integration, connection } = splitKey(key);
      const cfg = opts.limits(integration);
      if (cfg === undefined) return;
      const own = connectionOf(key, cfg);
      const app = appOf(integration, cfg);
      // A bucket paused until a provider's reset grants nothing before it: a caller that may not
      // wait that long hears so now rather than when its own patience runs out.
      const pausedMs = Math.max(own?.current.pausedUntil ?? 0, app?.bucket.current.pausedUntil ?? 0) - clock.now();
      if (withinMs !== undefined && pausedMs > withinMs) throw new PacingTooLong(pausedMs);
      const first = own ? await own.take(signal) : undefined;
      let second: Release | undefined;
      try {
        second = app ? await app.turns.wait(connection, signal) : undefined;
      } catch (err) {
        first?.();
        throw err;
      }
      if (first === undefined && second === undefined) return;
      const list = held.get(key) ?? [];
      list.push(() => {
        first?.();
        second?.();
      });
      held.set(key, list);
    },

    observe(key, answer) {
      const list = held.get(key);
      list?.shift()?.();
      if (list?.length === 0) held.delete(key);
      const { integration } = splitKey(key);
      connections.get(key)?.answered();
      apps.get(integration)?.bucket.answered();
      if (answer === undefined) return;
      const bucket = answeredBy(key);
      if (bucket === undefined) return;
      // The same reading of the answer as the shared buckets' (shared.ts), applied to this one.
      const adj = adjustmentOf(answer, bucket.inflight, clock);
      if (adj.limit !== undefined) bucket.followLimit(adj.limit);
      if (adj.atMost !== undefined) bucket.atMost(adj.atMost);
      if (adj.pauseMs !== undefined) bucket.pause(clock.now() + adj.pauseMs);
    },

    state(key) {
      const { integration } = splitKey(key);
      const c = connections.get(key);
      const a = apps.get(integration)?.bucket;
      if (c === undefined && a === undefined) return undefined;
      return { ...(c ? { connection: c.current } : {}), ...(a ? { app: a.current } : {}) };
    },

    stop() {
      for (const b of connections.values()) b.stop();
      for (const a of apps.values()) a?.bucket.stop();
      connections.clear();
      apps.clear();
    },
  };
}

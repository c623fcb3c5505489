import { systemClock, type Clock } from '../../clock.js';
import type { RateLimitConfig } from '../../definition/rate-limit.js';
import type { Logger } from '../../observability/logger.js';
import { realTimers, type BucketState, type Timers } from '../pacing/index.js';
import type { PacedAnswer, Pacer } from '../../providers/pacing.js';
import { adjustmentOf, APP, type BucketRef, splitKey } from '../pacing/shared.js';
import { SharedTurns } from '../pacing/shared-turns.js';
import { RedisBuckets, type RedisBucketOptions } from './bucket.js';
import type { RedisHandle } from '../../store/redis/client.js';
import { Slots } from './waiting.js';

export interface RedisPacerOptions extends RedisBucketOptions {
  redis: RedisHandle;
  /** The `rateLimit` block of an integration; undefined: that integration is not paced. */
  limits(integration: string): RateLimitConfig | undefined;
  /** Reads Retry-After dates and X-RateLimit-Reset; the buckets themselves run on Redis's clock. */
  clock?: Clock;
  timers?: Timers;
  log?: Logger;
}

/**
 * The provider client's pacer (src/providers/pacing.ts) on buckets every replica shares: the
 * same keys, knobs and answers as the in-process `createBucketPacer`, so the hub can take either.
 * A request of `<integration>:<connection>` takes one token of the connection's bucket, then one
 * of the app's, which this replica hands out to its connections in turn as the in-process pacer
 * does (../pacing/shared-turns.ts), waiting between tries as long as the script says, on an
 * abortable timer.
 *
 * Per process still: `concurrency` (requests in flight per connection; a per-replica cap, so N
 * replicas allow N × concurrency: a shared semaphore would need leases that outlive a crashed
 * replica), the order of waiters of one key (a FIFO line; across replicas, whoever asks first
 * after a refill wins), and the in-flight count subtracted from X-RateLimit-Remaining (this
 * replica's requests only; another's unanswered ones are not known here). The in-process pacer's
 * round-robin of the app bucket between connections is replaced by polling: each connection's
 * head of line asks on its own.
 */
export class RedisPacer implements Pacer {
  private readonly buckets: RedisBuckets;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly turns: SharedTurns;
  private readonly slots = new Map<string, Slots>();
  /** Releases of granted requests per pace key, oldest first: `observe` ends the oldest. */
  private readonly held = new Map<string, { release: (() => void) | undefined; refs: BucketRef[] }[]>();
  /** Granted and not yet answered here, per bucket key. */
  private readonly inflight = new Map<string, number>();
  /** Buckets known to have heard an answer: observing them again is a no-op unless the answer adjusts. */
  private readonly heard = new Set<string>();
  private readonly stopped = new AbortController();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: RedisPacerOptions) {
    this.buckets = new RedisBuckets(opts.redis, opts);
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? realTimers;
    this.turns = new SharedTurns(this.buckets, this.timers, this.clock);
  }

  /** The buckets of a key, the one a provider's answer speaks of first (the connection's, when it has one). */
  private refsOf(integration: string, connection: string, cfg: RateLimitConfig): BucketRef[] {
    const h = this.opts.redis;
    // `{integration}` is a Redis Cluster hash tag: both buckets of one take land on one slot.
    const refs: BucketRef[] = [];
    // The app's own credential (`<integration>:app`: an API key from config) is a connection too.
    if (cfg.perConnection) refs.push({ key: h.key('bucket', `{${integration}}`, 'c', connection), spec: cfg.perConnection });
    if (cfg.perApp) refs.push({ key: h.key('bucket', `{${integration}}`, APP), spec: cfg.perApp });
    return refs;
  }

  /**
   * With `withinMs` (a caller waiting for the answer), a bucket whose next token comes later than
   * that (a provider's pause any replica heard) refuses at once with a PacingTooLong naming the wait.
   */
  async acquire(key: string, signal: AbortSignal, withinMs?: number): Promise<void> {
    signal.throwIfAborted();
    const { integration, connection } = splitKey(key);
    const cfg = this.opts.limits(integration);
    if (cfg === undefined) return;
    const refs = this.refsOf(integration, connection, cfg);
    const both = AbortSignal.any([signal, this.stopped.signal]);
    let slots: Slots | undefined;
    if (cfg.concurrency !== undefined) {
      slots = this.slots.get(key) ?? new Slots(cfg.concurrency);
      this.slots.set(key, slots);
    }
    const slot = slots ? await slots.take(both) : undefined;
    const release =
      slot &&
      (() => {
        slot();
        // Dropped when idle, so a hub with many connections keeps only the busy ones.
        if (slots && !slots.busy && this.slots.get(key) === slots) this.slots.delete(key);
      });
    try {
      const own = cfg.perConnection ? refs[0] : undefined;
      if (refs.length > 0) await this.turns.take(connection, own, cfg.perApp ? refs.at(-1) : undefined, both, withinMs);
    } catch (err) {
      release?.();
      throw err;
    }
    for (const r of refs) this.inflight.set(r.key, (this.inflight.get(r.key) ?? 0) + 1);
    const list = this.held.get(key) ?? [];
    list.push({ release, refs });
    this.held.set(key, list);
  }

  /**
   * After every attempt `acquire` let through. The client does not wait for it; it returns the
   * Redis round trip for tests and shutdown, and never rejects (a failure is logged: the next
   * answer adjusts again).
   */
  observe(key: string, answer: PacedAnswer | undefined): Promise<void> {
    const list = this.held.get(key);
    const done = list?.shift();
    if (list?.length === 0) this.held.delete(key);
    done?.release?.();
    const refs = done?.refs ?? this.refsFor(key);
    for (const r of done?.refs ?? []) {
      const n = (this.inflight.get(r.key) ?? 1) - 1;
      if (n > 0) this.inflight.set(r.key, n);
      else this.inflight.delete(r.key);
    }
    if (refs.length === 0) return Promise.resolve();
    const adj = answer === undefined ? {} : adjustmentOf(answer, this.inflight.get(refs[0]!.key) ?? 0, this.clock);
    if (Object.keys(adj).length === 0 && refs.every((r) => this.heard.has(r.key))) return Promise.resolve();
    const p = this.buckets
      .observe(refs, adj)
      .then(() => {
        for (const r of refs) this.heard.add(r.key);
      })
      .catch((err: unknown) => {
        this.opts.log?.warn({ key, error: err instanceof Error ? err.message : String(err) }, 'could not adjust a shared rate-limit bucket');
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  private refsFor(key: string): BucketRef[] {
    const { integration, connection } = splitKey(key);
    const cfg = this.opts.limits(integration);
    return cfg ? this.refsOf(integration, connection, cfg) : [];
  }

  /** The buckets behind a key as they stand in Redis (rate, capacity, pause), for /readyz details and tests. */
  async state(key: string): Promise<{ connection?: BucketState; app?: BucketState } | undefined> {
    const { integration, connection } = splitKey(key);
    const cfg = this.opts.limits(integration);
    if (cfg === undefined) return undefined;
    const refs = this.refsOf(integration, connection, cfg);
    if (refs.length === 0) return undefined;
    const states = (await this.buckets.state(refs)).map(({ perSecond, capacity, pausedUntil }) => ({ perSecond, capacity, pausedUntil }));
    const hasOwn = cfg.perConnection !== undefined;
    const own = hasOwn ? states[0] : undefined;
    const app = cfg.perApp ? states[hasOwn ? 1 : 0] : undefined;
    return { ...(own ? { connection: own } : {}), ...(app ? { app } : {}) };
  }

  /** Rejects every waiting `acquire` (shutdown) and waits for the adjustments already sent. */
  async stop(): Promise<void> {
    this.stopped.abort(new Error('the pacer stopped'));
    await Promise.all([...this.pending]);
  }
}

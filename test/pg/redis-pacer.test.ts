import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { createRedisClient, type RedisHandle } from '../../src/store/redis/client.js';
import { RedisBuckets } from '../../src/outbox/redis/bucket.js';
import { BUCKET_SCRIPT } from '../../src/outbox/redis/bucket-script.js';
import { RedisPacer } from '../../src/outbox/redis/pacer.js';
import type { PacerWithState } from '../../src/outbox/redis/shapes.js';
import { fewestGrants, grantsIn, worstExcess } from '../helpers/grants.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

const ok = (headers: Record<string, string> = {}) => ({ status: 200, headers: new Headers(headers) });

describe.skipIf(redisSkip !== undefined)('RedisPacer: one bucket shared by replicas', () => {
  let server: TestRedis;
  const open: { handles: RedisHandle[]; pacers: RedisPacer[] } = { handles: [], pacers: [] };

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(open.pacers.splice(0).map((p) => p.stop()));
    await Promise.all(open.handles.splice(0).map((h) => h.close()));
  });

  /** Two replicas: two clients (two connections) on one prefix, each with its own pacer and clock. */
  function replicas(limits: Record<string, RateLimitConfig>, prefix = testPrefix(), graceMs?: number): [RedisPacer, RedisPacer] {
    // B's clock runs 10 minutes ahead of A's: the buckets run on Redis's clock, so it must not matter.
    const make = (skewMs: number) => {
      const h = createRedisClient({ url: server.url, keyPrefix: prefix });
      const clock = { now: () => Date.now() + skewMs };
      const p = new RedisPacer({ redis: h, limits: (i) => limits[i], clock, ...(graceMs === undefined ? {} : { graceMs }) });
      open.handles.push(h);
      open.pacers.push(p);
      return p;
    };
    return [make(0), make(600_000)];
  }

  it('two replicas grant at most 5 + 20·t tokens of a 20/s burst-5 bucket, and not far fewer', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const windowMs = 1_500;
    const inWindow = await grantsIn(a, b, 'api:c1', windowMs);
    const t = windowMs / 1000;
    expect(inWindow.length).toBeLessThanOrEqual(5 + 20 * t);
    // The bucket refills from the first answer (a few ms in) and holds back 2 of the burst: ≥ 80 % of 20·t.
    expect(inWindow.length).toBeGreaterThanOrEqual(fewestGrants(20, windowMs));
    // Any stretch of the run too: at most 5 + what 20/s refills in it (the bucket holds 3; the rest
    // absorbs grants the event loop timestamped late, which bunches them).
    expect(worstExcess(inWindow, 20)).toBeLessThanOrEqual(5);
    expect(inWindow.some((g) => g.by === 'a') && inWindow.some((g) => g.by === 'b')).toBe(true);
  });

  it("a Retry-After seen by one replica holds the other's requests until it passes", async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(5_000));
    // The pause starts on Redis's clock while `observe` runs: measured from before it.
    const paused = performance.now();
    await a.observe(key, { status: 429, headers: new Headers({ 'retry-after': '1' }) });
    const st = await b.state(key);
    expect(st?.connection?.pausedUntil).toBeGreaterThan(Date.now() + 700);
    // Held: a 300 ms wait gives up with the bucket still paused.
    await expect(b.acquire(key, AbortSignal.timeout(300))).rejects.toThrow();
    await b.acquire(key, AbortSignal.timeout(5_000));
    // One second of pause, then one token at 20/s (the bucket refills from empty after it).
    expect(performance.now() - paused).toBeGreaterThanOrEqual(1_040);
  });

  it('X-RateLimit-* from one replica adjusts the bucket the other takes from', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(5_000));
    // The first limit seen is the declared bucket's peer; half of it later halves the bucket.
    await a.observe(key, ok({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '99' }));
    expect((await b.state(key))?.connection).toMatchObject({ perSecond: 20, capacity: 3 });
    await a.acquire(key, AbortSignal.timeout(5_000));
    await a.observe(key, ok({ 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '0' }));
    // 10/s, and the burst 5 × ½ → 3, less the 2 held back → 2.
    expect((await b.state(key))?.connection).toMatchObject({ perSecond: 10, capacity: 2 });
    // Remaining 0: nothing at hand, the next token a tenth of a second away at 10/s.
    const t0 = performance.now();
    await b.acquire(key, AbortSignal.timeout(5_000));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(60);
  });

  it('buckets per connection are distinct for two tenants side by side; the app bucket is shared', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 1, burst: 3 }, perApp: { perSecond: 100, burst: 100 } } });
    // Connection ids of two users of two tenants: each has its own 2 tokens (burst 3 less the holdback… capOf(3) = 2).
    for (const [p, key] of [
      [a, 'api:tenantA-user1'],
      [b, 'api:tenantB-user1'],
    ] as const) {
      await p.acquire(key, AbortSignal.timeout(1_000));
      await p.acquire(key, AbortSignal.timeout(1_000));
      await expect(p.acquire(key, AbortSignal.timeout(200))).rejects.toThrow();
    }
    const one = await a.state('api:tenantA-user1');
    const two = await b.state('api:tenantB-user1');
    expect(one?.connection?.capacity).toBe(2);
    expect(two?.connection?.capacity).toBe(2);
    // Both took from one app bucket: 98 (burst 100 less 2) less the 4 grants; nothing refills before an answer.
    const buckets = new RedisBuckets(open.handles[0]!);
    const [app] = await buckets.state([{ key: open.handles[0]!.key('bucket', '{api}', 'app'), spec: { perSecond: 100, burst: 100 } }]);
    expect(app!.tokens).toBe(94);
  });

  it('runs the script again by its text after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const [a] = replicas({ api: { perApp: { perSecond: 50, burst: 10 } } });
    const redis = open.handles[0]!.redis;
    const sha = createHash('sha1').update(BUCKET_SCRIPT).digest('hex');
    await a.acquire('api:app', AbortSignal.timeout(1_000));
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    await a.acquire('api:app', AbortSignal.timeout(1_000));
    // EVAL ran it (and cached it again): the next EVALSHA finds it.
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect((await a.state('api:app'))?.app).toMatchObject({ perSecond: 50, capacity: 8 });
  });

  it('an abort while waiting rejects at once with its reason', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 1, burst: 1 } } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(1_000));
    await a.observe(key, ok());
    const c = new AbortController();
    const waiting = b.acquire(key, c.signal);
    setTimeout(() => c.abort(new Error('caller left')), 50);
    const t0 = performance.now();
    await expect(waiting).rejects.toThrow('caller left');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('concurrency is per replica: two in flight on each, a third waits for an answer', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 1_000, burst: 1_000 }, concurrency: 2 } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(1_000));
    await a.acquire(key, AbortSignal.timeout(1_000));
    await expect(a.acquire(key, AbortSignal.timeout(150))).rejects.toThrow();
    // Another replica has slots of its own (documented: N replicas allow N × concurrency).
    await b.acquire(key, AbortSignal.timeout(1_000));
    await b.acquire(key, AbortSignal.timeout(1_000));
    // An answer, or none (a network failure), frees a slot alike.
    await a.observe(key, undefined);
    await a.acquire(key, AbortSignal.timeout(1_000));
  });

  it('a bucket nobody answered for starts refilling after the grace period (a replica died holding the first grants)', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 1 } } }, testPrefix(), 300);
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(1_000));
    const t0 = performance.now();
    // A never reports an answer. Without the grace B would wait for ever; with it, 300 ms + one token at 20/s.
    await b.acquire(key, AbortSignal.timeout(2_000));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('an integration without limits is not paced and touches no key', async () => {
    const prefix = testPrefix();
    // Also: the Redis pacer fits the shape the wiring will hold either pacer as.
    const [a]: PacerWithState[] = replicas({}, prefix);
    for (let i = 0; i < 50; i++) await a!.acquire('free:c1', AbortSignal.timeout(1_000));
    expect(await open.handles[0]!.redis.keys(`${prefix}*`)).toEqual([]);
  });
});

/**
 * A caller that waits for its answer may wait for its pacing token only so long (`withinMs`: the
 * provider client's min(api.maxRetryAfterMs, api.timeoutMs)). On buckets shared through Redis, a
 * provider's pause any replica heard refuses such a caller at once with a PacingTooLong naming the
 * wait, as the in-process pacer does, so the read is answered "retry after N s" instead of hanging
 * until its timeout. A queued job (no `withinMs`) still waits for its token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { RedisPacer } from '../../src/outbox/redis/pacer.js';
import { PacingTooLong } from '../../src/providers/pacing.js';
import { createRedisClient, type RedisHandle } from '../../src/store/redis/client.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

const WITHIN_MS = 10_000;
const slowDown = { status: 429, headers: new Headers({ 'retry-after': '120' }) };

describe.skipIf(redisSkip !== undefined)('RedisPacer: a bounded caller and a paused shared bucket', () => {
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

  function replicas(limits: Record<string, RateLimitConfig>): [RedisPacer, RedisPacer] {
    const prefix = testPrefix();
    const make = () => {
      const h = createRedisClient({ url: server.url, keyPrefix: prefix });
      const p = new RedisPacer({ redis: h, limits: (i) => limits[i] });
      open.handles.push(h);
      open.pacers.push(p);
      return p;
    };
    return [make(), make()];
  }

  /** The rejection of a bounded acquire, and how long it took. */
  async function refusal(p: RedisPacer, key: string): Promise<{ err: unknown; ms: number }> {
    const t0 = performance.now();
    const err = await p.acquire(key, AbortSignal.timeout(WITHIN_MS + 5_000), WITHIN_MS).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, ms: performance.now() - t0 };
  }

  const expectRefused = ({ err, ms }: { err: unknown; ms: number }) => {
    expect(err).toBeInstanceOf(PacingTooLong);
    // The pause as the bucket tells it (and the refill of a token after it), less the moments since the 429.
    expect((err as PacingTooLong).waitMs).toBeGreaterThan(110_000);
    expect((err as PacingTooLong).waitMs).toBeLessThanOrEqual(121_000);
    expect(ms).toBeLessThan(2_000);
  };

  it.each([
    ['a connection bucket', { perConnection: { perSecond: 5, burst: 5 } }, 'api:c1'],
    ['the app bucket', { perApp: { perSecond: 5, burst: 5 } }, 'api:c1'],
    ['both', { perConnection: { perSecond: 5, burst: 5 }, perApp: { perSecond: 5, burst: 5 } }, 'api:c1'],
  ] as const)('a Retry-After: 120 one replica heard on %s refuses the other replica’s bounded caller at once', async (_label, cfg, key) => {
    const [a, b] = replicas({ api: cfg });
    await a.acquire(key, AbortSignal.timeout(5_000));
    await a.observe(key, slowDown);
    expectRefused(await refusal(b, key));
    // And the replica that heard it, and a second try: nothing was granted meanwhile.
    expectRefused(await refusal(a, key));
    expectRefused(await refusal(b, key));
  });

  it('a queued job (no bound) still waits; a bounded caller behind it in line is refused at once', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 5, burst: 5 } } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(5_000));
    await a.observe(key, slowDown);
    const job = new AbortController();
    const waiting = b.acquire(key, job.signal).then(
      () => 'granted',
      () => 'aborted',
    );
    // The job is at the head of b's line, asleep on the pause.
    await new Promise((r) => setTimeout(r, 200));
    expectRefused(await refusal(b, key));
    job.abort();
    expect(await waiting).toBe('aborted');
  });

  it('a bucket that only refills (no pause) lets a bounded caller wait for its token', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 5, burst: 1 } } });
    const key = 'api:c1';
    await a.acquire(key, AbortSignal.timeout(5_000));
    a.observe(key, { status: 200, headers: new Headers() });
    await b.acquire(key, AbortSignal.timeout(5_000), WITHIN_MS);
  });
});

/**
 * The authorization server's registration limit (10 an hour per client address, RFC 7591
 * `/register`) holds across replicas that share a Redis: the count lives there, so two hubs allow
 * what one does rather than twice as much. With Redis gone each hub counts on its own again, and
 * says so once in its log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL_ENV } from '../../bench/services.js';
import { manualClock } from '../../src/clock.js';
import { MemoryOAuthClient } from '../auth/support.js';
import { capturedLogger } from '../helpers/log.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';
import { type Pair, type PairHub, startPair } from './redis-hub-pair.js';

/** A registration from a remote caller, as a reverse proxy on the hub's machine names it. */
async function registerFrom(h: PairHub, address: string, name: string): Promise<{ status: number; retryAfter: string | null }> {
  const res = await fetch(`${h.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(new MemoryOAuthClient(name).clientMetadata),
  });
  await res.body?.cancel();
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

/** One registration at a time, alternating between the hubs as a round-robin balancer sends them. */
async function alternating(pair: Pair, address: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await registerFrom(i % 2 === 0 ? pair.a : pair.b, address, `client ${i}`)).status);
  return statuses;
}

// Only with a Redis of its own: the last test stops it, and an external one is not this test's to stop.
describe.skipIf(redisSkip !== undefined || process.env[REDIS_URL_ENV] !== undefined)('two hubs on one Redis: one registration limit', () => {
  const clock = manualClock(Date.now());
  const lines: string[] = [];
  let redis: TestRedis;
  let pair: Pair;

  beforeAll(async () => {
    redis = await startRedis();
    pair = await startPair({ redis: { url: redis.url, keyPrefix: testPrefix() } }, { postgres: true, clock, log: capturedLogger(lines, 'info') });
  }, 90_000);

  afterAll(async () => {
    await pair?.close();
    await redis?.stop();
  });

  it('10 registrations an hour from one address through both hubs together, then 429 on either until the hour is over', async () => {
    const t0 = clock.now();
    expect(await alternating(pair, '203.0.113.50', 14)).toEqual([...Array(10).fill(201), 429, 429, 429, 429]);
    expect(await registerFrom(pair.b, '203.0.113.50', 'late')).toEqual({ status: 429, retryAfter: '3600' });
    // Another address has its own 10.
    expect((await registerFrom(pair.b, '203.0.113.51', 'other')).status).toBe(201);
    clock.set(t0 + 3_600_000);
    expect((await registerFrom(pair.b, '203.0.113.50', 'next hour')).status).toBe(201);
  });

  it('30 sent at once through both hubs make 10 clients', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => registerFrom(i % 2 === 0 ? pair.a : pair.b, '203.0.113.54', `burst ${i}`)));
    expect(statuses.filter((r) => r.status === 201)).toHaveLength(10);
    expect(statuses.filter((r) => r.status === 429)).toHaveLength(20);
  });

  it('a malformed registration gives its slot back on the shared count', async () => {
    const bad = await fetch(`${pair.a.base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.52' },
      body: JSON.stringify({ redirect_uris: 'not-an-array' }),
    });
    await bad.body?.cancel();
    expect(bad.status).toBe(400);
    expect(await alternating(pair, '203.0.113.52', 11)).toEqual([...Array(10).fill(201), 429]);
  });

  it('with Redis gone each hub counts on its own, and says so once', async () => {
    clock.advance(3_600_000);
    await redis.stop();
    expect(await alternating(pair, '203.0.113.53', 22)).toEqual([...Array(20).fill(201), 429, 429]);
    const said = lines.filter((l) => l.includes('client registrations are counted per process'));
    expect(said).toHaveLength(2); // once per hub
  }, 60_000);
});

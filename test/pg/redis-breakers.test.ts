import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { isHubError } from '../../src/errors.js';
import type { BreakerSnapshot } from '../../src/outbox/breaker.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { RedisBreakers } from '../../src/outbox/redis/breakers.js';
import { type Breakers, localBreakers } from '../../src/outbox/redis/shapes.js';
import { createRedisClient, type RedisHandle } from '../../src/store/redis/client.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

const fail = { kind: 'status', status: 503 } as const;

describe.skipIf(redisSkip !== undefined)('RedisBreakers: one circuit per integration across replicas', () => {
  let server: TestRedis;
  const handles: RedisHandle[] = [];

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()));
  });

  /** Replicas with connections of their own on one prefix, and one manual clock (equal clocks). */
  function replicas(n = 2): { breakers: RedisBreakers[]; clock: ReturnType<typeof manualClock> } {
    const prefix = testPrefix();
    const clock = manualClock();
    const breakers = Array.from({ length: n }, () => {
      const h = createRedisClient({ url: server.url, keyPrefix: prefix });
      handles.push(h);
      return new RedisBreakers({ redis: h, clock, coolDownMs: 30_000, probeWaitMs: 1_000 });
    });
    return { breakers, clock };
  }

  it('5 failures on replica A open the circuit for B; past the cool-down exactly one of A and B gets the probe', async () => {
    const { breakers, clock } = replicas();
    const [a, b] = breakers as [RedisBreakers, RedisBreakers];
    const seenByA: BreakerSnapshot[] = [];
    a.onChange((s) => seenByA.push(s));
    for (let i = 0; i < 4; i++) {
      expect(await a.admit('api')).toEqual({ ok: true });
      await a.record('api', fail);
    }
    // Four are not enough.
    expect(await b.admit('api')).toEqual({ ok: true });
    await a.record('api', fail);
    const opened = clock.now();
    expect(await b.admit('api')).toEqual({ ok: false, retryAt: opened + 30_000, state: 'open', failures: 5 });
    await expect(b.check('api')).rejects.toSatisfy((e) => isHubError(e) && e.code === 'circuit_open');
    expect(seenByA).toEqual([{ integration: 'api', state: 'open', failures: 5, retryAt: opened + 30_000 }]);

    clock.advance(30_000);
    // Both ask at once: one script run comes first and is the probe.
    const answers = await Promise.all([a.admit('api'), b.admit('api')]);
    expect(answers.filter((x) => x.ok)).toEqual([{ ok: true, probe: true }]);
    expect(answers.find((x) => !x.ok)).toEqual({ ok: false, retryAt: clock.now() + 1_000, state: 'half_open', failures: 5 });
    // Still one probe however often the others ask before it reports.
    for (let i = 0; i < 5; i++) expect((await Promise.all([a.admit('api'), b.admit('api')])).some((x) => x.ok)).toBe(false);
    // The probe succeeds (whichever replica sent it): closed for both.
    await (answers[0]!.ok ? a : b).record('api', { kind: 'status', status: 200 });
    expect(await a.admit('api')).toEqual({ ok: true });
    expect(await b.admit('api')).toEqual({ ok: true });
  });

  it('exactly one probe among many concurrent callers on four replicas', async () => {
    const { breakers, clock } = replicas(4);
    for (let i = 0; i < 5; i++) await breakers[i % 4]!.record('api', { kind: 'timeout' });
    clock.advance(30_000);
    const answers = await Promise.all(breakers.flatMap((b) => Array.from({ length: 10 }, () => b.admit('api'))));
    expect(answers.filter((x) => x.ok)).toHaveLength(1);
  });

  it('a failed probe opens it again for everyone; a probe that never reports is given up after another cool-down', async () => {
    const { breakers, clock } = replicas();
    const [a, b] = breakers as [RedisBreakers, RedisBreakers];
    for (let i = 0; i < 5; i++) await a.record('api', { kind: 'network' });
    clock.advance(30_000);
    expect(await b.admit('api')).toEqual({ ok: true, probe: true });
    await b.record('api', fail);
    expect(await a.admit('api')).toMatchObject({ ok: false, state: 'open', retryAt: clock.now() + 30_000, failures: 6 });
    clock.advance(30_000);
    expect(await a.admit('api')).toEqual({ ok: true, probe: true });
    // A never reports: B waits a cool-down, then probes instead.
    clock.advance(29_999);
    expect(await b.admit('api')).toMatchObject({ ok: false, state: 'half_open' });
    clock.advance(1);
    expect(await b.admit('api')).toEqual({ ok: true, probe: true });
    await expect(b.check('api')).rejects.toSatisfy((e) => isHubError(e) && e.code === 'circuit_open');
  });

  it('a 4xx is no failure (it closes the count), and integrations have separate circuits', async () => {
    const { breakers } = replicas();
    const [a, b] = breakers as [RedisBreakers, RedisBreakers];
    for (let i = 0; i < 4; i++) await a.record('api', fail);
    await b.record('api', { kind: 'status', status: 404 });
    for (let i = 0; i < 4; i++) await a.record('api', fail);
    expect(await b.admit('api')).toEqual({ ok: true });
    for (let i = 0; i < 5; i++) await a.record('other', fail);
    expect(await b.admit('other')).toMatchObject({ ok: false, state: 'open' });
    expect(await b.admit('api')).toEqual({ ok: true });
    b.add('quiet');
    expect(await b.snapshot()).toEqual([
      { integration: 'api', state: 'closed', failures: 4, retryAt: undefined },
      { integration: 'other', state: 'open', failures: 5, retryAt: expect.any(Number) },
      { integration: 'quiet', state: 'closed', failures: 0, retryAt: undefined },
    ]);
  });

  it('the in-process breakers, lifted to the shared shape, follow the same script of events', async () => {
    const { breakers, clock } = replicas();
    const local = localBreakers(new CircuitBreakers({ clock, coolDownMs: 30_000, probeWaitMs: 1_000 }));
    // The same steps on both: each answers the same.
    const run = async (b: Breakers) => {
      const seen: unknown[] = [];
      for (let i = 0; i < 5; i++) await b.record('api', fail);
      seen.push(await b.admit('api'));
      clock.advance(30_000);
      seen.push(await b.admit('api'), await b.admit('api'));
      await b.record('api', fail);
      seen.push(await b.admit('api'));
      clock.advance(30_000);
      seen.push(await b.admit('api'));
      await b.record('api', { kind: 'status', status: 200 });
      seen.push(await b.admit('api'), await b.snapshot());
      clock.set(clock.now() - 60_000);
      return seen;
    };
    const shared: Breakers = breakers[0]!;
    expect(await run(shared)).toEqual(await run(local));
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { T0, api, link, startSandbox, type Harness } from './harness.js';

const T0_SECONDS = T0 / 1000;

describe('sandbox per-token rate limit (5/s, burst 10)', () => {
  let h: Harness;
  let token: string;
  beforeEach(async () => {
    h = await startSandbox();
    token = (await link(h, 'alice')).access_token;
  });
  afterEach(() => h.close());

  const limits = (res: Response) => ({
    limit: res.headers.get('x-ratelimit-limit'),
    remaining: res.headers.get('x-ratelimit-remaining'),
    reset: res.headers.get('x-ratelimit-reset'),
    retryAfter: res.headers.get('retry-after'),
  });

  it('spends the burst, answers 429 with Retry-After, and recovers as the clock moves', async () => {
    for (let i = 1; i <= 10; i++) {
      const res = await api(h, 'GET', '/tickets', token);
      expect(res.status).toBe(200);
      // The bucket is full again i tokens × 200 ms from now.
      expect(limits(res)).toEqual({ limit: '10', remaining: String(10 - i), reset: String(Math.ceil(T0_SECONDS + i * 0.2)), retryAfter: null });
    }
    const limited = await api(h, 'GET', '/tickets', token);
    expect(limited.status).toBe(429);
    expect(limits(limited)).toEqual({ limit: '10', remaining: '0', reset: String(T0_SECONDS + 2), retryAfter: '1' });
    expect(await limited.json()).toEqual({ error: { code: 'rate_limited', message: 'rate limit exceeded; retry in 1 s' } });
    // Writes and bad requests count as well.
    expect((await api(h, 'POST', '/tickets', token, { title: 'x' })).status).toBe(429);

    h.clock.advance(199);
    expect((await api(h, 'GET', '/tickets', token)).status).toBe(429);
    h.clock.advance(1);
    const one = await api(h, 'GET', '/tickets', token);
    expect(one.status).toBe(200);
    expect(limits(one).remaining).toBe('0');
    expect((await api(h, 'GET', '/tickets', token)).status).toBe(429);

    h.clock.advance(2_000);
    const full = await api(h, 'GET', '/me', token);
    expect(full.status).toBe(200);
    expect(limits(full)).toEqual({ limit: '10', remaining: '9', reset: String(Math.ceil((h.clock.now() + 200) / 1000)), retryAfter: null });
  });

  it('keeps one bucket per access token and states the budget on 4xx answers too', async () => {
    for (let i = 0; i < 11; i++) await api(h, 'GET', '/me', token);
    expect((await api(h, 'GET', '/me', token)).status).toBe(429);

    const other = (await link(h, 'bob')).access_token;
    const notFound = await api(h, 'GET', '/tickets/tkt_nope', other);
    expect(notFound.status).toBe(404);
    expect(limits(notFound)).toMatchObject({ limit: '10', remaining: '9' });
    const bad = await api(h, 'POST', '/tickets', other, {});
    expect(bad.status).toBe(400);
    expect(limits(bad)).toMatchObject({ limit: '10', remaining: '8' });
  });

  it('honours a configured rate', async () => {
    await h.close();
    h = await startSandbox({ rateLimit: { perSecond: 0.5, burst: 2 } });
    token = (await link(h, 'alice')).access_token;
    expect((await api(h, 'GET', '/me', token)).status).toBe(200);
    expect((await api(h, 'GET', '/me', token)).status).toBe(200);
    const limited = await api(h, 'GET', '/me', token);
    expect(limited.status).toBe(429);
    expect(limits(limited)).toMatchObject({ limit: '2', remaining: '0', retryAfter: '2' });
    h.clock.advance(2_000);
    expect((await api(h, 'GET', '/me', token)).status).toBe(200);
  });
});

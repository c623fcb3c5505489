/**
 * A 403 that is a rate limit (GitHub's secondary limit: 403 with Retry-After; its primary one: 403
 * with X-RateLimit-Remaining: 0; Google's `rateLimitExceeded` body), read as the outbox reads it
 * (src/outbox/classify.ts isRateLimited): a GET tries again after the wait it names, as for a 429.
 * A 403 that is a refusal is the answer at once, and a write is never sent twice here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createProviderClient } from '../../src/providers/client.js';
import { noCredentials } from '../../src/providers/credentials.js';

const clock = manualClock(1_800_000_000_000);
let server: Server;
let base: string;
let hits = 0;
/** The first answer; every later one is a 200. */
let first: { headers: Record<string, string>; body: string } = { headers: {}, body: '' };

beforeAll(async () => {
  server = createServer((_req, res) => {
    if (++hits === 1) return void res.writeHead(403, { 'content-type': 'application/json', ...first.headers }).end(first.body);
    res.writeHead(200, { 'content-type': 'application/json' }).end('[{"id":1}]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const sleeps: number[] = [];
beforeEach(() => {
  hits = 0;
  sleeps.length = 0;
});
const client = createProviderClient({ clock, sleep: async (ms) => void sleeps.push(ms), limits: { timeoutMs: 5_000, maxRetryAfterMs: 60_000 } });
const fetchOf = () => client.bind({ label: 'GitHub', apiBaseUrl: `${base}/api`, credentials: noCredentials, paceKey: 'gh:app' });
const SECONDARY = '{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}';

describe('a GET answered 403 for a rate limit', () => {
  it('with Retry-After (GitHub secondary limit): tried again after it', async () => {
    first = { headers: { 'retry-after': '1' }, body: SECONDARY };
    const res = await fetchOf()('/issues');
    expect({ status: res.status, body: await res.text(), hits, sleeps }).toEqual({ status: 200, body: '[{"id":1}]', hits: 2, sleeps: [1000] });
  });

  it('with X-RateLimit-Remaining: 0 (primary limit): tried again at the reset', async () => {
    first = { headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(clock.now() / 1000 + 30) }, body: '{"message":"API rate limit exceeded"}' };
    const res = await fetchOf()('/issues');
    expect({ status: res.status, hits, sleeps }).toEqual({ status: 200, hits: 2, sleeps: [30_000] });
  });

  it("with Google's rateLimitExceeded and no wait named: tried again after the backoff", async () => {
    first = { headers: {}, body: '{"error":{"errors":[{"reason":"rateLimitExceeded"}]}}' };
    const res = await fetchOf()('/issues');
    expect({ status: res.status, hits, sleeps: sleeps.length }).toEqual({ status: 200, hits: 2, sleeps: 1 });
  });

  it('a wait past maxRetryAfterMs: the 403 is the answer at once, its body intact', async () => {
    first = { headers: { 'retry-after': '3600' }, body: SECONDARY };
    const res = await fetchOf()('/issues');
    expect({ status: res.status, body: await res.text(), hits, sleeps }).toEqual({ status: 403, body: SECONDARY, hits: 1, sleeps: [] });
  });

  it('a 403 refusal is not retried, nor a write answered with a rate limit', async () => {
    first = { headers: {}, body: '{"message":"Resource not accessible by integration"}' };
    expect((await fetchOf()('/issues')).status).toBe(403);
    expect(hits).toBe(1);
    hits = 0;
    first = { headers: { 'retry-after': '1' }, body: SECONDARY };
    expect((await fetchOf()('/issues', { method: 'POST', body: '{}' })).status).toBe(403);
    expect({ hits, sleeps }).toEqual({ hits: 1, sleeps: [] });
  });
});

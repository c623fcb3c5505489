import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { linkUser, type PollingHub, pollingHub, polledIntegration } from './harness.js';

/**
 * README (Polling): Retry-After and X-RateLimit-* pause a poller, and only failed polls count
 * towards `stalled`. GitHub answers a spent primary limit with 403 (or 429) and
 * `X-RateLimit-Remaining: 0`, and its secondary limit with 403 and Retry-After (REST API docs,
 * "Rate limits"): "not now", as a 429 is, so the poller waits as told and records no failure.
 * The provider is a local server speaking GitHub's rate-limit headers; clock and timer are the test's.
 */

const row = z.object({
  failures: z.number(),
  state: z.string(),
  last_error: z.string().nullable(),
  next_run_at: z.number(),
  paused_until: z.number().nullable(),
});

let server: Server | undefined;
let hub: PollingHub | undefined;

afterEach(async () => {
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

const FEED = { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type', intervalSeconds: 10 };

async function pollAgainst(answer: (now: number) => { status: number; headers: Record<string, string>; body: string }) {
  let polls = 0;
  server = createServer((req, res) => {
    if (!req.url?.startsWith('/api/events')) return void res.writeHead(404).end();
    polls++;
    const a = answer(hub!.clock.now());
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub = await pollingHub({ tickets: polledIntegration(origin, FEED) });
  await linkUser(hub, hub.clock, { accessToken: 'at-alice' }, 'alice');
  const pollers = () => z.array(row).parse(hub!.hub.db.prepare('SELECT failures, state, last_error, next_run_at, paused_until FROM pollers').all());
  return { pollers, polls: () => polls };
}

describe('a poll GitHub refuses with a rate-limit 403', () => {
  it('a spent primary window (403, X-RateLimit-Remaining: 0) pauses the poller until its reset, no failure counted', async () => {
    let resetAt = 0;
    const { pollers, polls } = await pollAgainst((now) => {
      resetAt ||= now + 40 * 60_000;
      return {
        status: 403,
        headers: {
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-used': '5000',
          'x-ratelimit-reset': String(Math.ceil(resetAt / 1000)),
          'x-ratelimit-resource': 'core',
        },
        body: JSON.stringify({
          message: 'API rate limit exceeded for user ID 1.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        }),
      };
    });
    expect(await hub!.hub.pollers.tick()).toBe(1);
    expect(polls()).toBe(1);
    const [p] = pollers();
    expect(p).toMatchObject({ failures: 0, state: 'active', last_error: null });
    expect(p!.next_run_at).toBeGreaterThanOrEqual(resetAt - 1_000);
    expect(p!.paused_until).toBe(p!.next_run_at);
  });

  it('a secondary limit (403 with Retry-After) waits the Retry-After, no failure counted, five in a row never stall it', async () => {
    const { pollers, polls } = await pollAgainst(() => ({
      status: 403,
      headers: { 'retry-after': '120' },
      body: JSON.stringify({ message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }),
    }));
    for (let i = 0; i < 5; i++) {
      hub!.clock.set(Math.max(hub!.clock.now(), pollers()[0]!.next_run_at));
      const at = hub!.clock.now();
      expect(await hub!.hub.pollers.tick()).toBe(1);
      expect(pollers()[0]!.next_run_at).toBeGreaterThanOrEqual(at + 120_000);
    }
    expect(polls()).toBe(5);
    expect(pollers()[0]).toMatchObject({ failures: 0, state: 'active', last_error: null });
  });

  it('a plain 403 (no rate-limit signal) is still a failed poll', async () => {
    const { pollers } = await pollAgainst(() => ({ status: 403, headers: {}, body: JSON.stringify({ message: 'Resource not accessible by integration' }) }));
    expect(await hub!.hub.pollers.tick()).toBe(1);
    expect(pollers()[0]).toMatchObject({ failures: 1, state: 'active' });
    expect(pollers()[0]!.last_error).toContain('403');
  });
});

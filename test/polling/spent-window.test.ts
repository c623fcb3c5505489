import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { linkUser, type PollingHub, pollingHub, polledIntegration } from './harness.js';

/**
 * README (Polling): Retry-After and X-RateLimit-* pause a poller; only failed polls count towards
 * `stalled`. A tool call's answer says the connection's rate window is spent until a reset an hour
 * away; the poller's next run, refused by the pacer before anything is sent, waits for that reset
 * instead of being recorded as a failed poll (retried on failure backoff, stalled after five). The
 * hub's clock and the scheduler's timer are the test's; the provider is a local server.
 */

const RESET_MS = 3_600_000;
const row = z.object({
  failures: z.number(),
  state: z.string(),
  last_error: z.string().nullable(),
  next_run_at: z.number(),
  paused_until: z.number().nullable(),
});

let server: Server | undefined;
let hub: PollingHub | undefined;
let client: FaceClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => {});
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe('a poller whose rate window a tool call found spent', () => {
  it('pauses until the reset, counting no failure', { timeout: 60_000 }, async () => {
    let polls = 0;
    let resetAt = 0;
    server = createServer((req, res) => {
      if (req.url?.startsWith('/api/events')) {
        polls++;
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ events: polls === 1 ? [{ id: 'ev1', type: 't' }] : [], next_cursor: 'c1' }));
        return;
      }
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'x-ratelimit-limit': '60',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetAt / 1000),
        })
        .end('{}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const feed = { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type', intervalSeconds: 10 };
    hub = await pollingHub({
      tickets: polledIntegration(origin, feed, { rateLimit: { perConnection: { perSecond: 5, burst: 5 } }, api: { timeoutMs: 3_000 } }),
    });
    const { clock } = hub;
    resetAt = clock.now() + RESET_MS;
    await linkUser(hub, clock, { accessToken: 'at-alice' }, 'alice');
    const pollers = () => z.array(row).parse(hub!.hub.db.prepare('SELECT failures, state, last_error, next_run_at, paused_until FROM pollers').all());

    expect(await hub.hub.pollers.tick()).toBe(1);
    // The page with the event, then the empty one after it.
    const read = polls;
    expect(read).toBeGreaterThan(0);

    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    expect((await client.callTool('tickets__ping', {})).isError).toBe(false);

    // Each run due at once for five runs: on failure backoff, five failures would stall it.
    for (let i = 0; i < 5; i++) {
      clock.set(Math.max(clock.now(), pollers()[0]!.next_run_at));
      if (clock.now() >= resetAt) break;
      expect(await hub.hub.pollers.tick()).toBe(1);
    }
    const [p] = pollers();
    expect(polls).toBe(read);
    expect(p).toMatchObject({ failures: 0, state: 'active', last_error: null });
    // Paused until the reset, give or take the time the test took.
    expect(p!.next_run_at).toBeGreaterThan(resetAt - 10_000);
    expect(p!.paused_until).toBe(p!.next_run_at);
  });
});

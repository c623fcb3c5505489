import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { linkUser, type PollingHub, pollingHub, polledIntegration } from './harness.js';

/**
 * X (formerly Twitter) answers a spent window 429 with `x-rate-limit-reset` (a Unix timestamp) and
 * no Retry-After (docs.x.com, "Rate limits"): the poller waits for that reset rather than asking
 * again every minute into the same window. The provider is a local server; clock and timer are the test's.
 */

const row = z.object({ failures: z.number(), state: z.string(), next_run_at: z.number(), paused_until: z.number().nullable() });

let server: Server | undefined;
let hub: PollingHub | undefined;

afterEach(async () => {
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe('a poll X refuses for a spent window', () => {
  it('pauses the poller until x-rate-limit-reset, no failure counted', async () => {
    let resetAt = 0;
    server = createServer((_req, res) => {
      resetAt ||= (Math.floor(hub!.clock.now() / 1000) + 12 * 60) * 1000;
      res
        .writeHead(429, {
          'content-type': 'application/json',
          'x-rate-limit-limit': '180',
          'x-rate-limit-remaining': '0',
          'x-rate-limit-reset': String(resetAt / 1000),
        })
        .end('{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const feed = { path: '/mentions', cursorParam: 'since_id', cursorFrom: 'meta.newest_id', itemsAt: 'data', idAt: 'id', intervalSeconds: 60 };
    hub = await pollingHub({ x: polledIntegration(origin, feed) });
    await linkUser(hub, hub.clock, { accessToken: 'at-alice' }, 'alice', 'x');
    expect(await hub.hub.pollers.tick()).toBe(1);
    const [p] = z.array(row).parse(hub.hub.db.prepare('SELECT failures, state, next_run_at, paused_until FROM pollers').all());
    expect(p).toMatchObject({ failures: 0, state: 'active' });
    expect(p!.next_run_at).toBe(resetAt);
    expect(p!.paused_until).toBe(resetAt);
  });
});

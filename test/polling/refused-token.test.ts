import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { linkUser, type PollingHub, pollingHub, polledIntegration } from './harness.js';

/**
 * A feed on a provider that refuses in a 2xx, as Slack's Web API does: `{"ok": false, "error":
 * "invalid_auth"}` for a dead token, never a 401. With the integration's `refusal` block a poll
 * reads it as a tool call does: a reason listed in `refusal.unauthorized` refreshes the token once,
 * and when the new token is refused too the connection goes to `needs_reauth` (its pollers stop);
 * any other refusal is a failed poll naming the reason, not an empty page. Two users side by side:
 * only the dead one's connection moves. A local server in Slack's wire format; the hub's clock and
 * the scheduler's timer are the test's.
 */
const row = z.object({ connection_id: z.string(), failures: z.number(), state: z.string(), last_error: z.string().nullable() });

let server: Server | undefined;
let hub: PollingHub | undefined;

afterEach(async () => {
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe("a poll refused in a 200 (Slack's ok:false)", () => {
  it('relinks a dead token after one refresh, and fails a poll refused for another reason, each for its own user', { timeout: 60_000 }, async () => {
    const refreshes: string[] = [];
    const json = (res: import('node:http').ServerResponse, body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/oauth/token') {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          refreshes.push(new URLSearchParams(body).get('refresh_token') ?? '');
          // The account is gone: its new token is as dead as the old one.
          json(res, { access_token: 'at-alice-2', refresh_token: 'rt-alice-2', token_type: 'Bearer', expires_in: 3600 });
        });
        return;
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (token.startsWith('at-alice')) return json(res, { ok: false, error: 'invalid_auth' });
      if (token === 'at-bob') return json(res, { ok: false, error: 'missing_scope' });
      return json(res, { ok: true, events: [{ id: 'ev1', type: 't' }], next_cursor: '' });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const feed = { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type', intervalSeconds: 10 };
    hub = await pollingHub({
      tickets: polledIntegration(origin, feed, { refusal: { okAt: 'ok', messageAt: 'error', unauthorized: ['invalid_auth', 'token_revoked'] } }),
    });
    const alice = await linkUser(hub, hub.clock, { accessToken: 'at-alice' }, 'alice');
    const bob = await linkUser(hub, hub.clock, { accessToken: 'at-bob' }, 'bob');
    const carol = await linkUser(hub, hub.clock, { accessToken: 'at-carol' }, 'carol');

    await hub.hub.pollers.tick();
    const pollers = z.array(row).parse(hub.hub.db.prepare('SELECT connection_id, failures, state, last_error FROM pollers').all());
    const of = (id: string) => pollers.find((p) => p.connection_id === id);

    // alice: refreshed once, refused again, so a new link is needed.
    expect(refreshes).toEqual(['unused']);
    const connections = hub.hub.integrations.accounts.connections;
    expect(await connections.find('default', 'alice', 'tickets')).toMatchObject({ state: 'needs_reauth' });
    // bob: a refusal for another reason is a failed poll that says why; his connection is untouched.
    expect(of(bob.id)).toMatchObject({ failures: 1, last_error: '/events was refused: missing_scope' });
    expect(await connections.find('default', 'bob', 'tickets')).toMatchObject({ state: 'active' });
    // carol's poll stored her event.
    expect(of(carol.id)).toMatchObject({ failures: 0, last_error: null });
    expect(of(alice.id)?.last_error ?? '').not.toContain('at-alice');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlitePollerStore } from '../../src/polling/store.js';
import { linkUser, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * README (Linked accounts): each link sets the provider account afresh; (Polling) a poller starts
 * when the account is linked. A user who links the integration again with another account (another
 * workspace, another login) has the same connection, so its poller's cursor is the old account's:
 * a cursor naming an item of another account is refused by the provider (here 400, as an id cursor
 * of a feed it does not know), and every poll after failed until the poller stalled. A local
 * provider whose feed is per account (by the bearer token), over real HTTP; the hub's clock injected.
 */

const FEED = { path: '/events', cursorParam: 'after', cursorFrom: 'next', itemsAt: 'events', idAt: 'id', typeFrom: 'type', intervalSeconds: 10 };
const FEEDS: Record<string, Array<{ id: string; type: string }>> = {
  'Bearer at-A': [
    { id: 'a1', type: 't' },
    { id: 'a2', type: 't' },
  ],
  'Bearer at-B': [{ id: 'b1', type: 't' }],
};

let server: Server;
let hub: PollingHub;
const requests: string[] = [];

beforeEach(async () => {
  requests.length = 0;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const who = String(req.headers.authorization);
    requests.push(`${who.slice(-4)} ${url.search}`);
    const feed = FEEDS[who] ?? [];
    const after = url.searchParams.get('after');
    const from = after === null ? 0 : feed.findIndex((e) => e.id === after) + 1;
    if (from === 0 && after !== null) return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown cursor"}');
    const events = feed.slice(from);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ events, next: events.at(-1)?.id ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub = await pollingHub({ tickets: polledIntegration(issuer, FEED) });
});
afterEach(async () => {
  await hub.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('a connection linked again with another provider account', () => {
  it('polls the new account’s feed from its start, not from the old account’s cursor', async () => {
    const first = await linkUser(hub, hub.clock, { accessToken: 'at-A' }, 'alice');
    await hub.hub.pollers.tick();
    expect(await hub.hub.inbox.inbox.cursorOf(first.id, 'events')).toBe('a2');

    // Linked again, the account lookup says another account: the same connection, a new account id.
    const i = hub.hub.integrations;
    const again = await i.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'tickets',
      tokens: { accessToken: 'at-B', refreshToken: 'unused', tokenType: 'Bearer', expiresAt: hub.clock.now() + 86_400_000 },
      scopes: ['read'],
      accountId: 'acct-B',
    });
    expect(again.id).toBe(first.id);
    i.feed.publish({ id: again.id, tenant: again.tenant, user: again.user, integration: 'tickets', state: 'active' });
    const row = await new SqlitePollerStore(hub.hub.db, hub.clock).get({ connectionId: first.id, feed: 'events' });
    hub.clock.set(row!.nextRunAt);
    await hub.hub.pollers.tick();

    expect(requests).toEqual(['at-A ', 'at-A ?after=a2', 'at-B ', 'at-B ?after=b1']);
    expect((await hub.hub.inbox.inbox.list({ integration: 'tickets' })).map((e) => e.providerEventId).sort()).toEqual(['a1', 'a2', 'b1']);
    expect(await new SqlitePollerStore(hub.hub.db, hub.clock).get({ connectionId: first.id, feed: 'events' })).toMatchObject({ failures: 0, state: 'active' });
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGES_FEED, startChangesServer, type ChangesServer } from './changes-server.js';
import { linkUser, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * README (Polling): every active connection of an integration that declares `poll` gets a poller,
 * stopped when it is revoked. A stopped poller's row stays in the store (its cursor, its counts),
 * due since its last run: many of them (revoked accounts, accounts that must be linked again, a
 * feed no longer in the config) must not keep a live connection's poller from ever being read as
 * due. A local provider feed over real HTTP, a real SQLite file, the hub's clock injected.
 */

let server: ChangesServer;
let hub: PollingHub;

beforeEach(async () => {
  server = await startChangesServer();
  hub = await pollingHub({ tickets: polledIntegration(server.issuer, CHANGES_FEED) });
});
afterEach(async () => {
  await hub.stop();
  await server.close();
});

describe('pollers of connections no longer polled', () => {
  it('do not crowd out a live connection’s poller, however many there are', { timeout: 60_000 }, async () => {
    const i = hub.hub.integrations;
    // 600 accounts linked, then revoked (or sent to needs_reauth): their pollers stop, their rows stay.
    for (let n = 0; n < 600; n++) {
      const c = await linkUser(hub, hub.clock, { accessToken: `at-${n}` }, `gone-${n}`);
      if (n % 2 === 0) await i.connections.markRevoked(c.id, 'revoked by its user');
      else await i.connections.markNeedsReauth(c.id, 'the refresh token expired');
      i.feed.publish({ id: c.id, tenant: c.tenant, user: c.user, integration: 'tickets', state: n % 2 === 0 ? 'revoked' : 'needs_reauth' });
    }
    expect(hub.hub.pollers.keys()).toHaveLength(0);
    hub.clock.advance(60_000);
    const alice = await linkUser(hub, hub.clock, { accessToken: 'at-alice' }, 'alice');
    server.changes = [{ id: 'a', ts: 1, kind: 'thing.changed' }];
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(server.requests).toEqual(['']);
    expect((await hub.hub.inbox.inbox.list({ integration: 'tickets' })).map((e) => e.connection?.id)).toEqual([alice.id]);
  });
});

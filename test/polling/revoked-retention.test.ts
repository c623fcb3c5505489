import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { CHANGES_FEED, startChangesServer, type ChangesServer } from './changes-server.js';
import { linkUser, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * README (Inbound events): done events are purged after retentionDays; those an inclusive poll
 * cursor still re-reads are kept until it moves on. A revoked connection's poller never runs again,
 * so its cursor never moves: its events must not be kept forever for it. A local provider feed
 * over real HTTP, a real SQLite file, the hub's clock injected.
 */

const DAY = 86_400_000;
let server: ChangesServer;
let hub: PollingHub;
let alice: Connection;
let bob: Connection;

beforeEach(async () => {
  server = await startChangesServer();
  hub = await pollingHub({ tickets: polledIntegration(server.issuer, CHANGES_FEED) });
  alice = await linkUser(hub, hub.clock, { accessToken: 'at-1' }, 'alice');
  bob = await linkUser(hub, hub.clock, { accessToken: 'at-2' }, 'bob');
});
afterEach(async () => {
  await hub.stop();
  await server.close();
});

const users = async () => (await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 100 })).map((e) => e.connection?.user).sort();

describe('a revoked connection’s polled events', () => {
  it('are purged after retentionDays like any done event, while a live connection’s at its cursor are kept', async () => {
    server.changes = [{ id: 'a', ts: 1, kind: 'thing.changed' }];
    await hub.hub.pollers.tick();
    await hub.hub.inbox.worker.drain();
    expect(await users()).toEqual(['alice', 'bob']);
    expect(await hub.hub.integrations.connections.markRevoked(alice.id, 'revoked by its user')).toBe(true);

    hub.clock.advance(8 * DAY);
    await hub.hub.inbox.purge.runOnce();
    expect(await users()).toEqual(['bob']);
    expect(bob.user).toBe('bob');
  });
});

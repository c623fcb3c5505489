/**
 * ReplicaEvents (src/replicas/hub-events.ts) between two replicas on a real Redis: per-user
 * resource updates and list changes reach the other replica's face scoped to the users named; a
 * tool-list change caused by a connection change is not sent twice (the connection change
 * travels); what arrives is never sent on, so nothing bounces back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFeed } from '../../src/connections/feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { type FaceEvent, ReplicaEvents } from '../../src/replicas/hub-events.js';
import { EventFeed } from '../../src/webhooks/inbox/handlers.js';
import type { InboxEvent } from '../../src/webhooks/inbox/types.js';
import { createRedisClient, type RedisHandle } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

const alice = { tenant: 'acme', user: 'alice', scopes: [] };

describe.skipIf(redisSkip !== undefined)('ReplicaEvents between two replicas', () => {
  let server: TestRedis;
  const open: Array<{ events: ReplicaEvents; h: RedisHandle }> = [];

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => server?.stop());
  afterEach(async () => {
    for (const { events, h } of open.splice(0)) {
      await events.stop();
      await h.close();
    }
  });

  async function replica(prefix: string, id: string) {
    const h = createRedisClient({ url: server.url, keyPrefix: prefix });
    const feed = new ConnectionFeed();
    const fanout = new RedisFanout({ redis: h, replicaId: id });
    const announced: string[] = [];
    const inbox = new EventFeed();
    const events = new ReplicaEvents({
      fanout,
      feed,
      inboxEvents: inbox,
      // The store has no such connection: the change is published on the feed as it came.
      connections: { get: async () => undefined },
      accounts: { changed: async (c) => void announced.push(c.id) },
      log: silentLogger(),
    });
    open.push({ events, h });
    await events.start();
    const heard: FaceEvent[] = [];
    const face = events.face();
    face.listen((e) => heard.push(e));
    const fed: string[] = [];
    feed.subscribe((c) => fed.push(`${c.id}:${c.state}`));
    // What the events resource does: each inbox event this replica is told of is one update for its owner.
    const told: string[] = [];
    inbox.subscribe((_envelope, e) => told.push(e.id));
    return { events, face, feed, fanout, heard, fed, announced, inbox, told };
  }

  it("B's face hears A's per-user resource update and list change with the users named; A hears nothing back", async () => {
    const prefix = testPrefix();
    const a = await replica(prefix, 'a');
    const b = await replica(prefix, 'b');
    a.face.share({ type: 'resource_updated', uri: 'events://acme/1', identities: [alice] });
    a.face.share({ type: 'list_changed', kind: 'prompts', identities: [alice] });
    await eventually(() => b.heard.length >= 2, 5_000);
    expect(b.heard).toEqual([
      { type: 'resource_updated', uri: 'events://acme/1', identities: [alice] },
      { type: 'list_changed', kind: 'prompts', identities: [alice] },
    ]);
    // A round trip from B proves A's subscription is live; A heard neither its own nor B's echo of them.
    b.face.share({ type: 'resource_updated', uri: 'events://acme/2', identities: [alice] });
    await eventually(() => a.heard.length >= 1, 5_000);
    expect(a.heard).toEqual([{ type: 'resource_updated', uri: 'events://acme/2', identities: [alice] }]);
    expect(b.heard).toHaveLength(2);
  });

  it('a connection change goes out once as itself: the tool-list change it causes is not shared, and B does not send it back', async () => {
    const prefix = testPrefix();
    const a = await replica(prefix, 'a');
    const b = await replica(prefix, 'b');
    // What the HTTP face does when the feed's change makes a source's tool list change.
    a.feed.subscribe(() => a.face.share({ type: 'list_changed', kind: 'tools', identities: [alice] }));
    b.feed.subscribe(() => b.face.share({ type: 'list_changed', kind: 'tools', identities: [alice] }));
    a.feed.publish({ id: 'conn_1', tenant: 'acme', user: 'alice', integration: 'acme', state: 'active' });
    await eventually(() => b.fed.length >= 1, 5_000);
    expect(b.fed).toEqual(['conn_1:active']);
    // The same state seen again (the store's watcher) is not sent again.
    a.feed.publish({ id: 'conn_1', tenant: 'acme', user: 'alice', integration: 'acme', state: 'active' });
    a.feed.publish({ id: 'conn_1', tenant: 'acme', user: 'alice', integration: 'acme', state: 'needs_reauth' });
    await eventually(() => b.fed.length >= 2, 5_000);
    // A round trip from B, then A's counts: nothing of its own came back.
    b.face.share({ type: 'resource_updated', uri: 'events://acme/3', identities: [alice] });
    await eventually(() => a.heard.length >= 1, 5_000);
    expect({ bFed: b.fed, bHeard: b.heard, aFed: a.fed, aHeard: a.heard.map((e) => e.type) }).toEqual({
      bFed: ['conn_1:active', 'conn_1:needs_reauth'],
      bHeard: [],
      aFed: ['conn_1:active', 'conn_1:active', 'conn_1:needs_reauth'],
      aHeard: ['resource_updated'],
    });
    expect(a.fanout.counts.received).toBe(1);
  });

  it('an inbox event is told once on each replica: not again when the store watch reads it after the word from another replica, nor when the word comes after', async () => {
    const prefix = testPrefix();
    const a = await replica(prefix, 'a');
    const b = await replica(prefix, 'b');
    const event = (id: string): InboxEvent => ({
      id,
      integration: 'acme',
      endpoint: 'default',
      type: 'issue.created',
      providerEventId: null,
      source: 'webhook',
      receivedAt: 0,
      connection: { id: 'conn_1', tenant: 'acme', user: 'alice' },
      payload: Buffer.from('{}'),
      state: 'done',
      attempts: 1,
      nextAttemptAt: 0,
      lastError: null,
      updatedAt: 0,
    });
    // A's worker finished evt_1: A's face tells its own subscribers and shares the update naming the event.
    a.face.share({ type: 'resource_updated', uri: 'switchboard://events/acme', identities: [alice], eventId: 'evt_1' });
    await eventually(() => b.heard.length >= 1, 5_000);
    expect(b.heard).toEqual([{ type: 'resource_updated', uri: 'switchboard://events/acme', identities: [alice] }]);
    // B's watch of the store then reads evt_1 (another process finished it): nothing is told again.
    b.inbox.publish(event('evt_1'));
    expect(b.told).toEqual([]);
    // B's watch read evt_2 first and told it; A's word of it, arriving after, is not delivered again on B.
    b.inbox.publish(event('evt_2'));
    expect(b.told).toEqual(['evt_2']);
    a.face.share({ type: 'resource_updated', uri: 'switchboard://events/acme', identities: [alice], eventId: 'evt_2' });
    // A round trip behind it: once B has heard the later word, A's word of evt_2 has been handled.
    a.face.share({ type: 'resource_updated', uri: 'switchboard://events/acme', identities: [alice], eventId: 'evt_3' });
    await eventually(() => b.heard.length >= 2, 5_000);
    expect(b.heard).toHaveLength(2);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isHubError } from '../../src/errors.js';
import { createRedisClient, type RedisHandle } from '../../src/store/redis/client.js';
import { type HubEvent, RedisFanout } from '../../src/replicas/fanout.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

/** Resolves with the first `n` events a replica's listeners hear. */
function collect(f: RedisFanout, n: number): { events: { event: HubEvent; from: string }[]; done: Promise<void> } {
  const events: { event: HubEvent; from: string }[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  f.on((event, from) => {
    events.push({ event, from });
    if (events.length >= n) resolve();
  });
  return { events, done };
}

describe.skipIf(redisSkip !== undefined)('RedisFanout: hub events between replicas', () => {
  let server: TestRedis;
  const handles: RedisHandle[] = [];
  const fanouts: RedisFanout[] = [];

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(fanouts.splice(0).map((f) => f.stop()));
    await Promise.all(handles.splice(0).map((h) => h.close()));
  });

  async function replica(prefix: string, replicaId: string): Promise<{ f: RedisFanout; h: RedisHandle }> {
    const h = createRedisClient({ url: server.url, keyPrefix: prefix });
    const f = new RedisFanout({ redis: h, replicaId });
    handles.push(h);
    fanouts.push(f);
    await f.start();
    return { f, h };
  }

  it("B receives A's list_changed for a user; A does not receive its own", async () => {
    const prefix = testPrefix();
    const { f: a } = await replica(prefix, 'replica-a');
    const { f: b } = await replica(prefix, 'replica-b');
    const atA = collect(a, 1);
    const atB = collect(b, 1);
    const changed: HubEvent = { type: 'list_changed', kind: 'tools', who: [{ tenant: 'acme', user: 'alice' }] };
    await a.publish(changed);
    await atB.done;
    expect(atB.events).toEqual([{ event: changed, from: 'replica-a' }]);
    // Redis delivers one publisher's messages in order: once B's reply reaches A, A's own came before it.
    const revoked: HubEvent = { type: 'token_revoked', tokenId: 'tok_1' };
    await b.publish(revoked);
    await atA.done;
    expect(atA.events).toEqual([{ event: revoked, from: 'replica-b' }]);
    expect(a.counts).toEqual({ received: 1, dropped: 0, own: 1 });
  });

  it('carries every event type unchanged', async () => {
    const prefix = testPrefix();
    const { f: a } = await replica(prefix, 'a');
    const { f: b } = await replica(prefix, 'b');
    const events: HubEvent[] = [
      { type: 'list_changed', kind: 'resources' },
      { type: 'resource_updated', uri: 'github://repos/acme/site/issues', who: [{ tenant: 't1', user: 'u1' }] },
      { type: 'token_revoked', tokenId: 'tok_9' },
      { type: 'connection_changed', id: 'conn_1', tenant: 't1', user: 'u1', integration: 'github', state: 'active' },
    ];
    const got = collect(b, events.length);
    for (const e of events) await a.publish(e);
    await got.done;
    expect(got.events.map((e) => e.event)).toEqual(events);
  });

  it('a malformed message is dropped and counted; the next valid one still arrives', async () => {
    const prefix = testPrefix();
    const { f: b, h } = await replica(prefix, 'b');
    const got = collect(b, 1);
    const channel = h.key('events');
    for (const junk of [
      'not json',
      JSON.stringify({ v: 1, from: 'x', at: 0, event: { type: 'list_changed', kind: 'everything' } }),
      JSON.stringify({ v: 2, from: 'x', at: 0, event: { type: 'token_revoked', tokenId: 't' } }),
      JSON.stringify({ v: 1, from: 'x', at: 0, event: { type: 'token_revoked', tokenId: 't', scopes: ['admin'] } }),
      JSON.stringify(null),
    ])
      await h.redis.publish(channel, junk);
    const valid: HubEvent = { type: 'resource_updated', uri: 'mem://a' };
    await h.redis.publish(channel, JSON.stringify({ v: 1, from: 'x', at: 0, event: valid }));
    await got.done;
    expect(got.events).toEqual([{ event: valid, from: 'x' }]);
    expect(b.counts).toEqual({ received: 1, dropped: 5, own: 0 });
  });

  it('a listener that throws does not keep the others from hearing', async () => {
    const prefix = testPrefix();
    const { f: a } = await replica(prefix, 'a');
    const { f: b } = await replica(prefix, 'b');
    b.on(() => {
      throw new Error('listener broke');
    });
    const got = collect(b, 2);
    await a.publish({ type: 'token_revoked', tokenId: '1' });
    await a.publish({ type: 'token_revoked', tokenId: '2' });
    await got.done;
    expect(got.events.map((e) => e.event)).toEqual([
      { type: 'token_revoked', tokenId: '1' },
      { type: 'token_revoked', tokenId: '2' },
    ]);
  });

  it('hubs on different key prefixes do not hear each other', async () => {
    const one = testPrefix();
    const two = testPrefix();
    const { f: a } = await replica(one, 'a');
    const { f: b } = await replica(one, 'b');
    const { f: c } = await replica(two, 'c');
    const { f: d } = await replica(two, 'd');
    const atB = collect(b, 1);
    const atD = collect(d, 1);
    await a.publish({ type: 'list_changed', kind: 'prompts' });
    await atB.done;
    await c.publish({ type: 'token_revoked', tokenId: 'two' });
    await atD.done;
    expect(atD.events).toEqual([{ event: { type: 'token_revoked', tokenId: 'two' }, from: 'c' }]);
    expect(d.counts).toEqual({ received: 1, dropped: 0, own: 0 });
  });

  it('rejects an event that does not fit the schema before it is sent', async () => {
    const { f: a } = await replica(testPrefix(), 'a');
    await expect(a.publish({ type: 'token_revoked', tokenId: '' })).rejects.toThrow();
  });

  it('a publish with Redis gone fails as store_failed', async () => {
    const h = createRedisClient({ url: 'redis://127.0.0.1:1', keyPrefix: testPrefix() });
    handles.push(h);
    const f = new RedisFanout({ redis: h, replicaId: 'a' });
    await expect(f.publish({ type: 'token_revoked', tokenId: 'x' })).rejects.toSatisfy((e) => isHubError(e) && e.code === 'store_failed');
  });
});

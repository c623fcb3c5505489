/**
 * A Redis 7 ACL user gets no pub/sub channels unless granted some (`acl-pubsub-default
 * resetchannels`), so a user made for the hub's keys alone (`~switchboard:* +@all`) reads and
 * writes the buckets but is refused the events channel. /readyz then says which channel to grant,
 * not only "not subscribed yet", and never names the URL; once granted, the retry subscribes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFeed } from '../../src/connections/feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { ReplicaEvents, redisHealth } from '../../src/replicas/hub-events.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

describe.skipIf(redisSkip !== undefined)('a Redis user without the events channel', () => {
  let server: TestRedis;
  const user = `sbc-${randomUUID().slice(0, 8)}`;
  const password = `pwc-${randomUUID()}`;
  const prefix = testPrefix();

  beforeAll(async () => {
    server = await startRedis();
    const admin = createRedisClient({ url: server.url });
    // Keys under the prefix, every command, and explicitly no channels.
    await admin.redis.acl('SETUSER', user, 'on', `>${password}`, `~${prefix}*`, 'resetchannels', '+@all');
    await admin.close();
  });
  afterAll(async () => {
    const admin = server && createRedisClient({ url: server.url });
    await admin?.redis.acl('DELUSER', user);
    await admin?.close();
    await server?.stop();
  });

  it('/readyz names the channel to grant, and the events subscribe once it is granted', async () => {
    const url = server.url.replace('redis://', `redis://${user}:${password}@`);
    const h = createRedisClient({ url, keyPrefix: prefix });
    const events = new ReplicaEvents({
      fanout: new RedisFanout({ redis: h, replicaId: 'a' }),
      feed: new ConnectionFeed(),
      connections: { get: async () => undefined },
      accounts: { changed: async () => undefined },
      log: silentLogger(),
      retryMs: 50,
    });
    try {
      await events.start();
      expect(events.subscribed).toBe(false);
      const report = await redisHealth(h, events);
      expect(report).toEqual({
        ok: false,
        reason: `not subscribed to the other replicas' events on Redis: its user may not use the channel ${prefix}events (NOPERM; grant it, e.g. ACL SETUSER <user> &${prefix}*)`,
      });
      expect(JSON.stringify(report)).not.toContain(password);

      const admin = createRedisClient({ url: server.url });
      await admin.redis.acl('SETUSER', user, `&${prefix}*`);
      await admin.close();
      await eventually(() => (events.subscribed ? true : undefined));
      expect(await redisHealth(h, events)).toEqual({ ok: true });
    } finally {
      await events.stop();
      await h.close();
    }
  });
});

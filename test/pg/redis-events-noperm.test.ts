/**
 * A Redis 7 ACL user gets no pub/sub channels unless granted some (`acl-pubsub-default
 * resetchannels`), so a user made for the hub's keys alone (`~switchboard:* +@all`) reads and
 * writes the buckets but is refused the events channel. /readyz then says which channel to grant,
 * not only "not subscribed yet", and never names the URL; once granted, the retry subscribes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFeed } from '../../src/connections/feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { ReplicaEvents, redisHealth } from '../../src/replicas/hub-events.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { redisSkip, redisUser, startRedis, type TestRedis, type TestRedisUser, testPrefix } from '../helpers/redis.js';

describe.skipIf(redisSkip !== undefined)('a Redis user without the events channel', () => {
  let server: TestRedis;
  let user: TestRedisUser;
  const prefix = testPrefix();

  beforeAll(async () => {
    server = await startRedis();
    // Keys under the prefix, every command, and explicitly no channels.
    user = await redisUser(server, [`~${prefix}*`, 'resetchannels', '+@all']);
  });
  afterAll(async () => {
    await user?.drop();
    await server?.stop();
  });

  it('/readyz names the channel to grant, and the events subscribe once it is granted', async () => {
    const h = createRedisClient({ url: user.url, keyPrefix: prefix });
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
      expect(JSON.stringify(report)).not.toContain(user.password);

      await user.grant(`&${prefix}*`);
      await eventually(() => (events.subscribed ? true : undefined));
      expect(await redisHealth(h, events)).toEqual({ ok: true });
    } finally {
      await events.stop();
      await h.close();
    }
  });
});

/**
 * A replica that started while Redis was away tries to subscribe to the other replicas' events
 * again and again, each wait doubling up to 30 s. Once Redis was back, it went on waiting out the
 * wait in progress: the events stayed unheard and /readyz said "not subscribed yet" for up to
 * 30 s more, while the same client's commands already worked (README, "Redis unreachable": events
 * resume when it is back). Now the client's reconnect starts the next attempt at once.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionFeed } from '../../src/connections/feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { ReplicaEvents, redisHealth } from '../../src/replicas/hub-events.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { redisSkip, startRedis, testPrefix } from '../helpers/redis.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// A redis-server of this machine is needed (the test starts one on a port of its choosing).
describe.skipIf(redisSkip !== undefined || process.env.SWITCHBOARD_TEST_REDIS_URL !== undefined)('the events of a replica started while Redis was away', () => {
  it('are subscribed as soon as Redis answers again, not once the next retry falls due', async () => {
    const port = await freePort();
    const h = createRedisClient({ url: `redis://127.0.0.1:${port}`, keyPrefix: testPrefix() });
    const events = new ReplicaEvents({
      fanout: new RedisFanout({ redis: h, replicaId: 'a' }),
      feed: new ConnectionFeed(),
      connections: { get: async () => undefined },
      accounts: { changed: async () => undefined },
      log: silentLogger(),
      // The wait an outage has grown to: a retry this far off must not be what ends it.
      retryMs: 60_000,
    });
    let redis: { stop(): Promise<void> } | undefined;
    try {
      await events.start();
      expect(events.subscribed).toBe(false);
      redis = await startRedis(port);
      await eventually(() => (h.redis.status === 'ready' ? true : undefined), 15_000);
      await eventually(() => (events.subscribed ? true : undefined), 10_000);
      expect(await redisHealth(h, events)).toEqual({ ok: true });
    } finally {
      await events.stop();
      await h.close();
      await redis?.stop();
    }
  }, 40_000);
});

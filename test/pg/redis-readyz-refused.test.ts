/**
 * A Redis that answers but refuses the hub's credentials (a wrong password in redis.url, a user
 * switched off) was shown on /readyz as "Redis is not reachable (connection reconnecting)", the
 * words of a server that is down: the operator looked for a network fault. Now the reason says
 * the server refused the connection and names its error word (WRONGPASS), never the URL; a server
 * that is down is still "not reachable", with the system's code (ECONNREFUSED).
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisHealth } from '../../src/replicas/hub-events.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { redisSkip, redisUser, startRedis, type TestRedis, type TestRedisUser, testPrefix } from '../helpers/redis.js';

describe.skipIf(redisSkip !== undefined)('/readyz on a Redis that refuses the connection', () => {
  let server: TestRedis;
  let user: TestRedisUser;
  beforeAll(async () => {
    server = await startRedis();
    user = await redisUser(server, ['~*', '&*', '+@all']);
  });
  afterAll(async () => {
    await user?.drop();
    await server?.stop();
  });

  /** What /readyz says once the client is past its first connect. */
  async function reasonFor(url: string): Promise<string> {
    const h = createRedisClient({ url, keyPrefix: testPrefix() });
    try {
      const report = await eventually(async () => {
        const r = await redisHealth(h);
        return !r.ok && !/\(connection (connecting|connect)\)/.test(r.reason) ? r : undefined;
      });
      return report.reason;
    } finally {
      await h.close();
    }
  }

  it('a wrong password: the server refused it, with its error word, not "not reachable"', async () => {
    const password = `wrong-${user.password}`;
    const reason = await reasonFor(user.url.replace(encodeURIComponent(user.password), encodeURIComponent(password)));
    expect(reason).toMatch(/^Redis refused the connection \(WRONGPASS\)/);
    expect(reason).not.toContain(password);
    expect(reason).not.toContain('127.0.0.1');
  });

  it('a server that is down: not reachable, with the system code', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const reason = await reasonFor(`redis://127.0.0.1:${port}`);
    expect(reason).toMatch(/^Redis is not reachable \(connection \w+: ECONNREFUSED\)$/);
  });

  it('the right password: ready', async () => {
    const h = createRedisClient({ url: user.url, keyPrefix: testPrefix() });
    try {
      await eventually(() => h.redis.status === 'ready');
      expect(await redisHealth(h)).toEqual({ ok: true });
    } finally {
      await h.close();
    }
  });
});

/**
 * ioredis SELECTs the database `redis.url` names on each connect, and when the server refuses it (a
 * number past its `databases`, SELECT in a cluster) goes on in database 0, shared with whoever uses
 * it. The hub logged that as a failed connection then "restored", and /readyz said ok. Now it is one
 * error naming the database, and /readyz says Redis is degraded and why, until the server takes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisHealth } from '../../src/replicas/hub-events.js';
import { createRedisClient } from '../../src/store/redis/client.js';
import { eventually } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

describe.skipIf(redisSkip !== undefined)('a redis.url naming a database the server refuses', () => {
  let server: TestRedis;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  const inDatabase = (n: number) => `${server.url.replace(/\/$/, '')}/${n}`;

  it('is one error naming it, and /readyz says Redis is degraded and why', async () => {
    const lines: string[] = [];
    const h = createRedisClient({ url: inDatabase(99), keyPrefix: testPrefix() }, { log: capturedLogger(lines, 'info') });
    try {
      // Past the connection's first moments ("connecting"): what it says once connected.
      const report = await eventually(async () => {
        const r = await redisHealth(h);
        return !r.ok && !r.reason.includes('(connection ') ? r : undefined;
      });
      expect(report.reason).toMatch(
        /^Redis refused the database redis\.url names \(database 99: ERR .*DB index is out of range\); the hub uses database 0 instead$/,
      );
      const told = lines.map((l) => JSON.parse(l) as { msg: string });
      expect(told.filter((l) => l.msg.startsWith('Redis refused database 99'))).toHaveLength(1);
      expect(told.filter((l) => /reconnecting|restored/.test(l.msg))).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('a database the server has is no refusal', async () => {
    const h = createRedisClient({ url: inDatabase(3), keyPrefix: testPrefix() });
    try {
      await eventually(() => h.redis.status === 'ready');
      expect(await h.redis.ping()).toBe('PONG');
      expect(await redisHealth(h)).toEqual({ ok: true });
      expect(h.databaseRefusal()).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});

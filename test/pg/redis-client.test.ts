import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHubError } from '../../src/errors.js';
import { createRedisClient, maskRedisUrl, redisConfigSchema, scrubPassword } from '../../src/store/redis/client.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { redisSkip, redisUser, startRedis, type TestRedis, type TestRedisUser, testPrefix } from '../helpers/redis.js';

describe('the Redis URL and password', () => {
  it('masks the password of a URL and scrubs it (raw and URL-encoded) from text', () => {
    expect(maskRedisUrl('redis://hub:s3cr%2Ft@db.internal:6380/2')).toBe('redis://hub:***@db.internal:6380/2');
    expect(maskRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(scrubPassword('AUTH hub s3cr/t failed; s3cr%2Ft', 'redis://hub:s3cr%2Ft@h')).toBe('AUTH hub *** failed; ***');
  });

  // ioredis reads every query parameter as a connection option: `?password=…` authenticates too.
  it('masks and scrubs a password given as a query parameter as it does the user info one', () => {
    expect(maskRedisUrl('redis://db.internal:6380/2?password=s3cr%2Ft&family=6')).toBe('redis://db.internal:6380/2?password=***&family=6');
    expect(maskRedisUrl('redis://db.internal?sentinelPassword=sp1')).toBe('redis://db.internal?sentinelPassword=***');
    expect(scrubPassword('AUTH s3cr/t failed; s3cr%2Ft', 'redis://h?password=s3cr%2Ft')).toBe('AUTH *** failed; ***');
  });

  it('takes only redis:// and rediss:// URLs, and a key prefix of plain characters', () => {
    expect(redisConfigSchema.parse({ url: 'rediss://h:6380' })).toEqual({ url: 'rediss://h:6380', keyPrefix: 'switchboard:' });
    expect(redisConfigSchema.safeParse({ url: 'http://h' }).success).toBe(false);
    expect(redisConfigSchema.safeParse({ url: 'redis://h', keyPrefix: 'a b' }).success).toBe(false);
  });
});

describe.skipIf(redisSkip !== undefined)('a client with a password', () => {
  let server: TestRedis;
  let acl: TestRedisUser;
  let password = '';

  beforeAll(async () => {
    server = await startRedis();
    acl = await redisUser(server, ['~*', '&*', '+@all']);
    password = acl.password;
  });
  afterAll(async () => {
    await acl?.drop();
    await server?.stop();
  });

  const withAuth = (pw: string) => server.url.replace('redis://', `redis://${acl.user}:${encodeURIComponent(pw)}@`);
  const withQuery = (pw: string) => `${server.url.replace(/\/$/, '')}/?username=${acl.user}&password=${encodeURIComponent(pw)}`;

  it('connects with the right password and prefixes its keys', async () => {
    const prefix = testPrefix();
    const h = createRedisClient({ url: withAuth(password), keyPrefix: prefix });
    expect(h.where).not.toContain(password);
    await h.redis.set(h.key('a', 'b'), '1');
    expect(await h.redis.get(`${prefix}a:b`)).toBe('1');
    await h.close();
  });

  it('connects with the password as a query parameter, and never shows it where the URL is named', async () => {
    const h = createRedisClient({ url: withQuery(password), keyPrefix: testPrefix() });
    try {
      expect(await h.redis.ping()).toBe('PONG');
      expect(h.where).not.toContain(password);
      expect(h.where).toContain('password=***');
    } finally {
      await h.close();
    }
  });

  it.each([
    ['in the user info', withAuth],
    ['as a query parameter', withQuery],
  ])('with a wrong password %s, neither the log nor the error carries it', async (_where, url) => {
    const lines: string[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const wrong = `wrong-${randomUUID()}`;
    const h = createRedisClient({ url: url(wrong), keyPrefix: testPrefix() }, { log });
    const f = new RedisFanout({ redis: h, replicaId: 'a' });
    const err = await f.publish({ type: 'token_revoked', tokenId: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await h.close();
    expect(isHubError(err) && err.code).toBe('store_failed');
    expect(String((err as Error).message)).not.toContain(wrong);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(wrong);
  });
});

import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHubError } from '../../src/errors.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { createRedisClient, maskRedisUrl, scrubPassword } from '../../src/store/redis/client.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

/**
 * ioredis reads every query parameter of the URL as a connection option, so
 * `redis://host:6379?password=…` authenticates as `redis://:…@host:6379` does. The password
 * given that way is masked in the URL the hub shows (logs, `doctor`, errors) and scrubbed from
 * messages, as the userinfo one is.
 */
describe('a Redis password given as a query parameter', () => {
  it('is masked in the URL and scrubbed from text, raw and URL-encoded', () => {
    expect(maskRedisUrl('redis://db.internal:6380/2?password=s3cr%2Ft&family=6')).toBe('redis://db.internal:6380/2?password=***&family=6');
    expect(maskRedisUrl('redis://db.internal?sentinelPassword=sp1')).toBe('redis://db.internal?sentinelPassword=***');
    expect(scrubPassword('AUTH s3cr/t failed; s3cr%2Ft', 'redis://h?password=s3cr%2Ft')).toBe('AUTH *** failed; ***');
  });
});

describe.skipIf(redisSkip !== undefined)('a client whose password is a query parameter', () => {
  let server: TestRedis;
  const user = `sbq-${randomUUID().slice(0, 8)}`;
  const password = `pwq-${randomUUID()}`;

  beforeAll(async () => {
    server = await startRedis();
    const admin = createRedisClient({ url: server.url });
    await admin.redis.acl('SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
    await admin.close();
  });
  afterAll(async () => {
    const admin = server && createRedisClient({ url: server.url });
    await admin?.redis.acl('DELUSER', user);
    await admin?.close();
    await server?.stop();
  });

  const withQuery = (pw: string) => `${server.url.replace(/\/$/, '')}/?username=${user}&password=${encodeURIComponent(pw)}`;

  it('connects, and never shows it where the URL is named', async () => {
    const h = createRedisClient({ url: withQuery(password), keyPrefix: testPrefix() });
    try {
      expect(await h.redis.ping()).toBe('PONG');
      expect(h.where).not.toContain(password);
      expect(h.where).toContain('password=***');
    } finally {
      await h.close();
    }
  });

  it('with a wrong one, neither the log nor the error carries it', async () => {
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
    const wrong = `wrongq-${randomUUID()}`;
    const h = createRedisClient({ url: withQuery(wrong), keyPrefix: testPrefix() }, { log });
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

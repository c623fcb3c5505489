/**
 * `switchboard doctor` checks Redis as the replicas use it: a PING, the database the URL names, and
 * the events channel. It PINGed only, and said "everything looks right" to a Redis 7 ACL user made
 * for the keys alone (refused the channel, so the replicas never hear each other) and to a URL
 * naming a database the server refuses (the hub then runs in database 0).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';
import { redisSkip, redisUser, startRedis, type TestRedis, type TestRedisUser, testPrefix } from '../helpers/redis.js';

describe.skipIf(redisSkip !== undefined)('doctor and Redis', () => {
  let server: TestRedis;
  let user: TestRedisUser;
  const dir = tmpDir();
  const prefix = testPrefix();

  beforeAll(async () => {
    server = await startRedis();
    // Keys under the prefix, every command, and no channels.
    user = await redisUser(server, [`~${prefix}*`, 'resetchannels', '+@all']);
  });
  afterAll(async () => {
    await user?.drop();
    await server?.stop();
    dir.remove();
  });

  async function doctor(url: string) {
    const config = join(dir.path, `${randomUUID()}.json`);
    writeFileSync(config, JSON.stringify({ redis: { url, keyPrefix: prefix } }));
    const r = await runCli(['doctor', '--config', config, '--data', join(dir.path, 'data')], dir.path);
    return { ...r, redis: (r.stdout + r.stderr).split('\n').find((l) => / redis: /.test(l)) ?? '' };
  }

  it('fails a user refused the events channel, naming it and not the password', async () => {
    const r = await doctor(user.url);
    expect(r.code).toBe(1);
    expect(r.redis).toMatch(new RegExp(`^FAIL +redis: .*subscribing to ${prefix}events.*NOPERM`));
    expect(r.stdout + r.stderr).not.toContain(user.password);
  });

  it('fails a database the server refuses', async () => {
    const r = await doctor(`${server.url.replace(/\/$/, '')}/99`);
    expect(r.code).toBe(1);
    expect(r.redis).toMatch(/^FAIL +redis: .* refused the database the URL names \(database 99: ERR .*DB index is out of range\)/);
  });

  it('passes a Redis the replicas can use, saying the channel may be used', async () => {
    const r = await doctor(server.url);
    expect(r.redis).toMatch(new RegExp(`^ok +redis: .* answers \\(PING in \\d+ ms; the events channel ${prefix}events may be used\\)`));
  });
});

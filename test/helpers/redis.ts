import { randomUUID } from 'node:crypto';
import { hasRedisServer, REDIS_URL_ENV, startRedis, type TestRedis } from '../../bench/services.js';
import { createRedisClient } from '../../src/store/redis/client.js';

// Start-up is shared with `npm run bench:store` (bench/services.ts); the skip rule is the suites' own.
export { startRedis, type TestRedis };

/**
 * A Redis for the PostgreSQL/Redis suite: `SWITCHBOARD_TEST_REDIS_URL` when set, else a
 * `redis-server` of this machine started on a free loopback port with nothing persisted.
 * Without either the suite is skipped with the reason printed, unless `SWITCHBOARD_REQUIRE_PG=1`
 * (CI's switch for the whole suite), where a missing server is a failure.
 */
export const redisSkip: string | undefined = (() => {
  if (process.env[REDIS_URL_ENV]) return undefined;
  if (hasRedisServer()) return undefined;
  const reason = 'no redis-server on PATH and SWITCHBOARD_TEST_REDIS_URL unset';
  if (process.env.SWITCHBOARD_REQUIRE_PG === '1') throw new Error(`SWITCHBOARD_REQUIRE_PG=1 but ${reason}`);
  console.warn(`skipping the Redis tests: ${reason}`);
  return reason;
})();

/** A key prefix of its own for each test, so tests sharing one server never see each other's keys. */
export function testPrefix(): string {
  return `t${randomUUID().slice(0, 8)}:`;
}

/** An ACL user of a test's own on a Redis, so a shared server's default user is left alone. */
export interface TestRedisUser {
  user: string;
  password: string;
  /** The server's URL with this user's credentials in it. */
  url: string;
  /** Adds ACL rules to the user (`&prefix*` grants channels). */
  grant(...rules: string[]): Promise<void>;
  drop(): Promise<void>;
}

/** Makes a user with `rules` (key patterns, channels, commands) on `server`, named and passworded afresh. */
export async function redisUser(server: TestRedis, rules: string[]): Promise<TestRedisUser> {
  const user = `sb-${randomUUID().slice(0, 8)}`;
  const password = `pw-${randomUUID()}`;
  const acl = async (...args: string[]) => {
    const admin = createRedisClient({ url: server.url });
    try {
      // ACL's subcommand and arguments as the server reads them.
      await admin.redis.call('ACL', ...args);
    } finally {
      await admin.close();
    }
  };
  await acl('SETUSER', user, 'on', `>${password}`, ...rules);
  return {
    user,
    password,
    url: server.url.replace('redis://', `redis://${user}:${encodeURIComponent(password)}@`),
    grant: (...more) => acl('SETUSER', user, ...more),
    drop: () => acl('DELUSER', user),
  };
}

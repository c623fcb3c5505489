import { randomUUID } from 'node:crypto';
import { hasRedisServer, REDIS_URL_ENV, startRedis, type TestRedis } from '../../bench/services.js';

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

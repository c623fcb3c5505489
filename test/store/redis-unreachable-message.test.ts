import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { isHubError } from '../../src/errors.js';
import { RedisFanout } from '../../src/replicas/fanout.js';
import { createRedisClient } from '../../src/store/redis/client.js';

/** A loopback port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * With Redis away, ioredis gives up on a command saying only that it "Reached the max retries per
 * request limit … Refer to "maxRetriesPerRequest" option", an option the hub's config does not
 * have. The error a paced call, an event or `doctor` shows says Redis is not reachable and why,
 * with the URL's password masked.
 */
it('a command given up on names Redis unreachable and the connection error, not an ioredis option', async () => {
  const port = await closedPort();
  const h = createRedisClient({ url: `redis://:pw-not-shown@127.0.0.1:${port}`, keyPrefix: 't:' });
  const f = new RedisFanout({ redis: h, replicaId: 'a' });
  const err = await f.publish({ type: 'token_revoked', tokenId: 'x' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await h.close();
  expect(isHubError(err) && err.code).toBe('store_failed');
  const message = String((err as Error).message);
  expect(message).toContain(
    `Redis (redis://:***@127.0.0.1:${port}) failed while publishing a hub event: Redis is not reachable (connect ECONNREFUSED 127.0.0.1:${port})`,
  );
  expect(message).not.toContain('maxRetriesPerRequest');
  expect(message).not.toContain('pw-not-shown');
});

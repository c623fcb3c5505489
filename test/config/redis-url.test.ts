/**
 * `redis.url` is refused at load, naming what to fix and never echoing the password, when ioredis
 * would read it otherwise than meant: a user info that does not percent-decode (start-up stopped
 * with a bare "URI malformed"), a path that is no database number (ioredis fails to select it and
 * goes on in database 0), a fragment (a `#` in a query-parameter password cuts it short and the
 * rest stays in the URL the hub shows).
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';

const problem = (url: string): string | undefined => {
  const r = configSchema.safeParse({ redis: { url } });
  return r.success ? undefined : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
};

describe('redis.url', () => {
  it('accepts the usual forms', () => {
    for (const url of [
      'redis://127.0.0.1:6379',
      'redis://127.0.0.1:6379/',
      'rediss://cache.internal:6380/2',
      'redis://:p%40ss%25w0rd@cache.internal:6379/15',
      'redis://hub:pw@cache.internal?family=6',
    ])
      expect(problem(url), url).toBeUndefined();
  });

  it('refuses a password that does not percent-decode, saying how to encode it, without the password', () => {
    const p = problem('redis://:Tr0ub%zz4dor@cache.internal:6379');
    expect(p).toMatch(/^redis\.url: expected a redis:\/\/ or rediss:\/\/ URL whose user name and password decode: percent-encode %/);
    expect(p).not.toContain('Tr0ub');
  });

  it('refuses a path that is no database number', () => {
    expect(problem('redis://cache.internal:6379/cache')).toMatch(/whose path, if any, is a database number/);
  });

  it('refuses a fragment: a # cut the password short', () => {
    const p = problem('redis://cache.internal:6379/?password=Tr0ub#4dor');
    expect(p).toMatch(/without a #/);
    expect(p).not.toContain('4dor');
  });
});

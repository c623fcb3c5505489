/**
 * `store.url` and DATABASE_URL take libpq's URL form (README "PostgreSQL"): the host in the
 * authority or, for a Unix socket, in a `host` query parameter. A URL that does not parse, or
 * parses as another host than meant (an unencoded #, / or ? in the password), is refused with
 * how to encode it, never with the password.
 */
import { describe, expect, it } from 'vitest';
import { pgUrlSchema } from '../../src/config/schema.js';
import { storeChoice } from '../../src/store/choice.js';
import { configSchema } from '../../src/config/schema.js';

const PASSWORD_PART = 'Tr0ub4dor';
const problem = (url: string): string | undefined => {
  const r = pgUrlSchema.safeParse(url);
  return r.success ? undefined : r.error.issues.map((i) => i.message).join('; ');
};

describe('PostgreSQL URLs', () => {
  it("accepts libpq's socket forms: the directory as ?host= (with user and port there too), or percent-encoded as the host", () => {
    for (const url of [
      'postgresql:///sb?host=/run/postgresql&user=sb',
      'postgresql:///sb?host=/tmp/pg&port=5433&user=sb',
      'postgres://sb:pw@%2Frun%2Fpostgresql/sb',
      'postgres://sb:pw@db.internal:5432/sb?sslmode=require',
    ])
      expect(problem(url), url).toBeUndefined();
    expect(storeChoice(configSchema.parse({}), { DATABASE_URL: 'postgresql:///sb?host=/run/postgresql&user=sb' })).toEqual({
      kind: 'postgres',
      url: 'postgresql:///sb?host=/run/postgresql&user=sb',
      from: 'DATABASE_URL',
    });
  });

  it('refuses a URL with no host anywhere, naming both ways to give a socket', () => {
    expect(problem('postgresql:///sb?user=sb')).toMatch(
      /^expected a postgres:\/\/ or postgresql:\/\/ URL with a host .*\?host=\/run\/postgresql.*%2Frun%2Fpostgresql/,
    );
    expect(problem('postgresql:///sb?host=')).toMatch(/with a host/);
  });

  it('a password with an unencoded #, / or ? gets how to encode it, and never appears in the message', () => {
    for (const pw of [`${PASSWORD_PART}#x`, `${PASSWORD_PART}/x`, `${PASSWORD_PART}?x`, `12#${PASSWORD_PART}`, `12/${PASSWORD_PART}`]) {
      const message = problem(`postgres://sb:${pw}@db:5432/sb`);
      expect(message, pw).toMatch(/must be percent-encoded \(# as %23, \/ as %2F, \? as %3F, @ as %40/);
      expect(message).not.toContain(PASSWORD_PART);
    }
  });

  it('user info before an empty host (the Cloud SQL proxy form) is told to percent-encode the socket directory as the host', () => {
    const message = problem(`postgres://sb:${PASSWORD_PART}@/sb?host=/cloudsql/p:r:i`);
    expect(message).toMatch(/with a host after the user info: a Unix socket directory percent-encoded as the host/);
    expect(message).not.toContain(PASSWORD_PART);
  });

  it('another scheme, or no URL at all, is told the schemes', () => {
    expect(problem(`mysql://sb:${PASSWORD_PART}@db/sb`)).toBe('expected a postgres:// or postgresql:// URL (postgres://user:password@host:5432/db)');
    expect(problem(PASSWORD_PART)).toBe('expected a postgres:// or postgresql:// URL (postgres://user:password@host:5432/db)');
  });
});

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { DEFAULT_TENANT } from '../../src/identity/identity.js';
import { ApiTokens, hashToken } from '../../src/identity/tokens.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const T0 = Date.UTC(2026, 3, 1);

describe('API tokens', () => {
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let tokens: ApiTokens;

  beforeEach(() => {
    clock = manualClock(T0);
    db = openDb({ file: ':memory:', clock });
    tokens = new ApiTokens(db, clock);
  });
  afterEach(() => db.close());

  it('creates an sbt_ token with 256 random bits and a record in the default tenant', () => {
    const { token, record } = tokens.create({ user: 'alice', label: 'laptop' });
    expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(record).toEqual({
      id: expect.stringMatching(/^tok_[0-9a-f]{12}$/),
      user: 'alice',
      tenant: DEFAULT_TENANT,
      scopes: ['mcp'],
      label: 'laptop',
      createdAt: T0,
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(tokens.get(record.id)).toEqual(record);
  });

  it('gives every token a different value and id', () => {
    const a = tokens.create({ user: 'alice' });
    const b = tokens.create({ user: 'alice' });
    expect(a.token).not.toBe(b.token);
    expect(a.record.id).not.toBe(b.record.id);
  });

  it('verifies a token to its identity and records when it was used', () => {
    const { token, record } = tokens.create({ user: 'bob', tenant: 'acme', scopes: ['mcp', 'admin'] });
    clock.advance(5000);
    expect(tokens.verify(token)).toEqual({ tenant: 'acme', user: 'bob', scopes: ['mcp', 'admin'], tokenId: record.id });
    expect(tokens.get(record.id)?.lastUsedAt).toBe(T0 + 5000);
    // Writes are throttled to one a minute: a second use within it leaves the stamp alone.
    clock.advance(30_000);
    tokens.verify(token);
    expect(tokens.get(record.id)?.lastUsedAt).toBe(T0 + 5000);
    clock.advance(60_000);
    tokens.verify(token);
    expect(tokens.get(record.id)?.lastUsedAt).toBe(T0 + 95_000);
  });

  it('rejects unknown, malformed and oversized tokens', () => {
    tokens.create({ user: 'alice' });
    expect(tokens.verify(`sbt_${'A'.repeat(43)}`)).toBeUndefined();
    expect(tokens.verify('')).toBeUndefined();
    expect(tokens.verify('Bearer sbt_x')).toBeUndefined();
    expect(tokens.verify(`sbt_${'A'.repeat(500)}`)).toBeUndefined();
  });

  it('revokes: verify gives undefined, list hides it unless asked, a second revoke is false', () => {
    const keep = tokens.create({ user: 'alice' });
    const gone = tokens.create({ user: 'alice' });
    clock.advance(1000);
    expect(tokens.revoke(gone.record.id)).toBe(true);
    expect(tokens.verify(gone.token)).toBeUndefined();
    expect(tokens.verify(keep.token)?.user).toBe('alice');
    expect(tokens.get(gone.record.id)?.revokedAt).toBe(T0 + 1000);
    expect(tokens.list().map((t) => t.id)).toEqual([keep.record.id]);
    expect(
      tokens
        .list({ includeRevoked: true })
        .map((t) => t.id)
        .sort(),
    ).toEqual([keep.record.id, gone.record.id].sort());
    expect(tokens.revoke(gone.record.id)).toBe(false);
    expect(tokens.revoke('tok_nope')).toBe(false);
    expect(tokens.count()).toBe(2);
  });

  it('refuses user and tenant names outside the allowed characters', () => {
    for (const bad of [{ user: '' }, { user: 'a b' }, { user: 'alice', tenant: 'x/y' }]) {
      let caught: unknown;
      try {
        tokens.create(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(HubError);
      expect(caught).toMatchObject({ code: 'invalid_params' });
    }
    expect(tokens.count()).toBe(0);
  });

  it('stores only the SHA-256 of the token', () => {
    const { token, record } = tokens.create({ user: 'alice' });
    const row = db.prepare('SELECT token_hash FROM api_tokens WHERE id = ?').pluck().get(record.id);
    expect(row).toBe(hashToken(token));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('API tokens on disk', () => {
  it('never writes the token plaintext to the database file or its WAL', () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'switchboard.db');
      const clock = manualClock(T0);
      const db = openDb({ file, clock });
      const tokens = new ApiTokens(db, clock);
      const created = Array.from({ length: 5 }, (_, i) => tokens.create({ user: `user${i}`, label: `label-${i}` }));
      for (const c of created) expect(tokens.verify(c.token)).toBeDefined();
      tokens.revoke(created[0]!.record.id);

      // Read while open (WAL holds the recent pages) and again after close (checkpointed into the db).
      const scan = () => {
        const bytes = [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
        return Buffer.concat(bytes);
      };
      const open = scan();
      db.close();
      const closed = scan();
      for (const bytes of [open, closed]) {
        // The scan must see the data at all, or the absence of tokens would prove nothing.
        expect(bytes.includes(Buffer.from('label-3'))).toBe(true);
        expect(bytes.includes(Buffer.from(hashToken(created[3]!.token)))).toBe(true);
        for (const c of created) {
          expect(bytes.includes(Buffer.from(c.token))).toBe(false);
          expect(bytes.includes(Buffer.from(c.token.slice(4)))).toBe(false);
        }
      }
    } finally {
      dir.remove();
    }
  });
});

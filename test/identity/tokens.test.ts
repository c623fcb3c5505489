/**
 * What only the SQLite implementation can show: what lands in the file. The behaviour every
 * implementation keeps (create, check, expiry, revoke, names) is test/store/contracts/api-tokens.ts.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { SqliteApiTokens, hashToken } from '../../src/identity/tokens.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const T0 = Date.UTC(2026, 3, 1);

describe('API tokens in SQLite', () => {
  let db: Db;
  let tokens: SqliteApiTokens;

  beforeEach(() => {
    const clock = manualClock(T0);
    db = openDb({ file: ':memory:', clock });
    tokens = new SqliteApiTokens(db, clock);
  });
  afterEach(() => db.close());

  it('stores only the SHA-256 of the token', async () => {
    const { token, record } = await tokens.create({ user: 'alice' });
    const row = db.prepare('SELECT token_hash FROM api_tokens WHERE id = ?').pluck().get(record.id);
    expect(row).toBe(hashToken(token));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('API tokens on disk', () => {
  it('never writes the token plaintext to the database file or its WAL', async () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'switchboard.db');
      const clock = manualClock(T0);
      const db = openDb({ file, clock });
      const tokens = new SqliteApiTokens(db, clock);
      const created = await Promise.all(Array.from({ length: 5 }, (_, i) => tokens.create({ user: `user${i}`, label: `label-${i}` })));
      for (const c of created) expect(await tokens.verify(c.token)).toBeDefined();
      await tokens.revoke(created[0]!.record.id);

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

describe('API tokens checked by two processes on one file', () => {
  it('a token revoked or expired by another connection is refused on the next check, though the first remembered it', async () => {
    const dir = tmpDir();
    const clock = manualClock(T0);
    const file = join(dir.path, 'switchboard.db');
    const hub = openDb({ file, clock });
    const cli = openDb({ file, clock });
    try {
      const tokens = new SqliteApiTokens(hub, clock);
      const elsewhere = new SqliteApiTokens(cli, clock);
      const a = await tokens.create({ user: 'alice' });
      const b = await tokens.create({ user: 'bob' });
      // Checked twice each: the second answer comes from what the first read, while nothing is committed.
      for (let i = 0; i < 2; i++) {
        expect(await tokens.check(a.token)).toMatchObject({ user: 'alice', tokenId: a.record.id });
        expect(await tokens.check(b.token)).toMatchObject({ user: 'bob', tokenId: b.record.id });
      }
      expect(await elsewhere.revoke(a.record.id)).toBe(true);
      expect(await tokens.check(a.token)).toBeUndefined();
      expect(await tokens.check(b.token)).toMatchObject({ user: 'bob' });
      cli.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ?').run(T0 + 1_000, b.record.id);
      expect(await tokens.check(b.token)).toMatchObject({ user: 'bob' });
      clock.advance(1_000);
      expect(await tokens.check(b.token)).toBe('expired');
      expect(await tokens.check('sbt_not-a-token-of-this-hub')).toBeUndefined();
    } finally {
      cli.close();
      hub.close();
      dir.remove();
    }
  });
});

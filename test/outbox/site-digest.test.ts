/**
 * A queued write records which site its connection was on (src/outbox/site.ts), read from the
 * connection in the insert's transaction: the same for a relink to the same site, another for a
 * relink to another, none for a connection that learned no values or a key from config's queue,
 * and no value of the account in the clear. A store from before migration 26 gets the column, its
 * queued jobs keeping none (they are sent as before).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { migrate, openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock(1_800_000_000_000);
const tokens = (n: number) => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, tokenType: 'Bearer' });

describe("a queued write's site", () => {
  it("is its connection's values as they were when it was queued, per user, never in the clear", async () => {
    const db = openDb({ file: ':memory:', clock });
    const repo = sqliteConnections(new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock));
    const outbox = new SqliteOutbox(db, clock);
    const link = (user: string, n: number, apiValues?: Record<string, string>) =>
      repo.link({ tenant: 'default', user, integration: 'jira', tokens: tokens(n), scopes: [], ...(apiValues ? { apiValues } : {}) });
    const queue = async (user: string, connectionId: string) =>
      (await outbox.enqueue({ tenant: 'default', user, connectionId, integration: 'jira', tool: 'comment', arguments: { key: 'PRJ-1' } })).job;

    const alice = await link('alice', 1, { cloudId: 'cloud-a' });
    const bob = await link('bob', 2, { cloudId: 'cloud-b' });
    const carol = await link('carol', 3);
    const first = await queue('alice', alice.id);
    expect(first.siteDigest).toMatch(/^s1\./);
    expect((await queue('bob', bob.id)).siteDigest).not.toBe(first.siteDigest);
    expect((await queue('carol', carol.id)).siteDigest).toBeNull();
    expect((await queue('dave', 'app:default/dave')).siteDigest).toBeNull();

    await link('alice', 4, { cloudId: 'cloud-a' });
    expect((await queue('alice', alice.id)).siteDigest).toBe(first.siteDigest);
    await link('alice', 5, { cloudId: 'cloud-c' });
    const moved = await queue('alice', alice.id);
    expect(moved.siteDigest).not.toBe(first.siteDigest);
    // As read back, too, and the column names no cloud id.
    expect((await outbox.find(first.id))?.siteDigest).toBe(first.siteDigest);
    const stored = db.prepare('SELECT site_digest FROM outbox_jobs').pluck().all();
    expect(stored.filter((s) => typeof s === 'string' && s.includes('cloud'))).toEqual([]);
  });

  it('is none for the jobs a store from before migration 26 holds', async () => {
    const dir = tmpDir();
    try {
      const old = openDb({ file: join(dir.path, 'switchboard.db'), clock, migrations: MIGRATIONS.filter((m) => m.version < 26) });
      old
        .prepare(
          `INSERT INTO outbox_jobs (id, tenant_id, user_id, connection_id, integration, tool, idempotency_key, key_from_caller, args_hash, args,
             sensitive, replay_safe, state, next_attempt_at, created_at, updated_at)
           VALUES ('job_old', 'default', 'alice', 'conn_a', 'jira', 'comment', 'k', 0, 'h', '{}', 0, 0, 'queued', 1, 1, 1)`,
        )
        .run();
      expect(migrate(old, clock).map((m) => m.name)).toEqual(['outbox_site_digest']);
      expect(await new SqliteOutbox(old, clock).find('job_old')).toMatchObject({ state: 'queued', siteDigest: null });
      old.close();
    } finally {
      dir.remove();
    }
  });
});

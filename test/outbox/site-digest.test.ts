/**
 * A queued write records which site its connection was on (src/outbox/site.ts), given by the
 * integration from the connection it read for the call: the same for a relink to the same site,
 * another for a relink to another, none for a connection that learned no values, and no value of
 * the account in the clear. A store from before migration 26 gets the column, its queued jobs
 * keeping none (they are sent as before).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { siteDigest } from '../../src/outbox/site.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { migrate, openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock(1_800_000_000_000);

describe("a queued write's site", () => {
  it('is a digest of its values, the same for the same values in any order, kept and read back per job, never in the clear', async () => {
    const a = siteDigest({ cloudId: 'cloud-a', region: 'eu' });
    expect(a).toMatch(/^s1\.[A-Za-z0-9_-]{43}$/);
    expect(siteDigest({ region: 'eu', cloudId: 'cloud-a' })).toBe(a);
    expect(siteDigest({ cloudId: 'cloud-b', region: 'eu' })).not.toBe(a);
    expect(siteDigest({})).toBeNull();

    const db = openDb({ file: ':memory:', clock });
    const outbox = new SqliteOutbox(db, clock);
    const queue = async (user: string, site?: string) =>
      (
        await outbox.enqueue({
          tenant: 'default',
          user,
          connectionId: `conn_${user}`,
          integration: 'jira',
          tool: 'comment',
          arguments: { key: 'PRJ-1' },
          ...(site ? { siteDigest: site } : {}),
        })
      ).job;
    const alice = await queue('alice', a!);
    const bob = await queue('bob', siteDigest({ cloudId: 'cloud-b' })!);
    const carol = await queue('carol');
    expect([alice.siteDigest, carol.siteDigest]).toEqual([a, null]);
    expect((await outbox.find(alice.id))?.siteDigest).toBe(a);
    expect((await outbox.find(bob.id))?.siteDigest).toBe(bob.siteDigest);
    expect((await outbox.find(carol.id))?.siteDigest).toBeNull();
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

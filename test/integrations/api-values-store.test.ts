/**
 * The values that fill an integration's apiBaseUrl per connection (Jira's cloud id, Salesforce's
 * instance URL) are stored with the connection: a relink replaces them whole, a refresh keeps them,
 * a relink to another site restarts its pollers from the feed's start, and a store from before
 * migration 25 gets the column, its connections with no values.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { migrate, openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock(1_800_000_000_000);
const tokens = (n: number) => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, tokenType: 'Bearer' });

function repoOn(db: ReturnType<typeof openDb>) {
  return sqliteConnections(new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock));
}

describe("a connection's API values", () => {
  it('are stored by the link, replaced by a relink, kept by a refresh, and kept apart per user', async () => {
    const db = openDb({ file: ':memory:', clock });
    const repo = repoOn(db);
    const link = (user: string, n: number, apiValues?: Record<string, string>) =>
      repo.link({ tenant: 'default', user, integration: 'sf', tokens: tokens(n), scopes: [], ...(apiValues ? { apiValues } : {}) });
    const a = await link('alice', 1, { instanceUrl: 'https://a.my.salesforce.com' });
    const b = await link('bob', 2, { instanceUrl: 'https://b.my.salesforce.com' });
    expect([a.apiValues, b.apiValues]).toEqual([{ instanceUrl: 'https://a.my.salesforce.com' }, { instanceUrl: 'https://b.my.salesforce.com' }]);

    const lease = await repo.tryLease(a.id, a.tokenVersion, 'me', 60_000, () => false);
    expect(lease.kind).toBe('acquired');
    expect(await repo.commitRefresh(lease.connection, 'me', tokens(3))).toBe(true);
    expect((await repo.get(a.id))?.apiValues).toEqual({ instanceUrl: 'https://a.my.salesforce.com' });

    const moved = await link('alice', 4, { instanceUrl: 'https://c.my.salesforce.com' });
    expect([moved.id, moved.apiValues]).toEqual([a.id, { instanceUrl: 'https://c.my.salesforce.com' }]);
    // A relink that learned none leaves none, never the former site's.
    expect((await link('alice', 5)).apiValues).toEqual({});
    expect((await repo.get(b.id))?.apiValues).toEqual({ instanceUrl: 'https://b.my.salesforce.com' });
  });

  it('moved to another site by a relink restart its pollers from the start', async () => {
    const db = openDb({ file: ':memory:', clock });
    const repo = repoOn(db);
    const c = await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(1), scopes: [], apiValues: { cloudId: 'site-1' } });
    db.prepare(
      "INSERT INTO pollers (connection_id, feed, integration, cursor, next_run_at, interval_ms, created_at, updated_at) VALUES (?, 'events', 'jira', '\"c-9\"', ?, 60000, 1, 1)",
    ).run(c.id, clock.now() + 600_000);
    const cursor = () => db.prepare('SELECT cursor FROM pollers WHERE connection_id = ?').pluck().get(c.id);
    await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(2), scopes: [], apiValues: { cloudId: 'site-1' } });
    expect(cursor()).toBe('"c-9"');
    await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(3), scopes: [], apiValues: { cloudId: 'site-2' } });
    expect(cursor()).toBeNull();
  });

  it('linked before the base named a value, a relink that learns one restarts its pollers', async () => {
    const db = openDb({ file: ':memory:', clock });
    const repo = repoOn(db);
    // Polled on the fixed base the integration had then: the cursor is that site's, maybe not the learned one's.
    const c = await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(1), scopes: [] });
    db.prepare(
      "INSERT INTO pollers (connection_id, feed, integration, cursor, next_run_at, interval_ms, created_at, updated_at) VALUES (?, 'events', 'jira', '\"c-9\"', ?, 60000, 1, 1)",
    ).run(c.id, clock.now() + 600_000);
    const cursor = () => db.prepare('SELECT cursor FROM pollers WHERE connection_id = ?').pluck().get(c.id);
    await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(2), scopes: [] });
    expect(cursor()).toBe('"c-9"');
    await repo.link({ tenant: 'default', user: 'alice', integration: 'jira', tokens: tokens(3), scopes: [], apiValues: { cloudId: 'site-1' } });
    expect(cursor()).toBeNull();
  });

  it('come to a store from before migration 25 as a column, its connections holding none', async () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'switchboard.db');
      const old = openDb({ file, clock, migrations: MIGRATIONS.filter((m) => m.version < 25) });
      old
        .prepare(
          "INSERT INTO connections (id, tenant_id, user_id, integration, state, token_version, scopes, created_at, updated_at) VALUES ('conn_old', 'default', 'alice', 'jira', 'active', 1, '', 1, 1)",
        )
        .run();
      expect(migrate(old, clock).map((m) => m.name)).toContain('connection_api_values');
      expect((await repoOn(old).get('conn_old'))?.apiValues).toEqual({});
      old.close();
    } finally {
      dir.remove();
    }
  });
});

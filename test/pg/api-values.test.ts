/**
 * A connection's API values (README: A base per linked account) on PostgreSQL, as on SQLite
 * (test/integrations/api-values-store.test.ts): stored by the link, replaced whole by a relink,
 * kept by a refresh, kept apart per user, a relink to another site restarting its pollers from the
 * feed's start and one to the same site keeping their cursors; a second replica reads them.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PgConnections } from '../../src/connections/pg.js';
import type { TokenSet } from '../../src/connections/types.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { PgDataKeys } from '../../src/vault/pg-data-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';

const clock = manualClock(1_800_000_000_000);
const tokens = (n: number): TokenSet => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, tokenType: 'Bearer' });
let pg: MigratedDatabase;
let second: PgStore;
let repos: [PgConnections, PgConnections];

describePg("PostgreSQL: a connection's API values", () => {
  beforeAll(async () => {
    pg = await migratedDatabase(clock);
    second = openPgStore({ url: pg.url });
    const ring = ephemeralRing();
    repos = [pg.store, second].map((db) => new PgConnections(db, new Vault({ keys: new PgDataKeys(db), ring, clock }), clock)) as [
      PgConnections,
      PgConnections,
    ];
  });
  afterAll(async () => {
    await second?.close();
    await pg?.drop();
  });
  beforeEach(async () => {
    await pg.reset();
  });

  const link = (user: string, n: number, apiValues?: Record<string, string>) =>
    repos[0].link({ tenant: 'default', user, integration: 'jira', tokens: tokens(n), scopes: [], ...(apiValues ? { apiValues } : {}) });

  it('are stored by the link, replaced by a relink, kept by a refresh, kept apart per user, read by another replica', async () => {
    const a = await link('alice', 1, { cloudId: 'cloud-a' });
    const b = await link('bob', 2, { cloudId: 'cloud/b' });
    expect((await repos[1].get(a.id))?.apiValues).toEqual({ cloudId: 'cloud-a' });
    expect((await repos[1].get(b.id))?.apiValues).toEqual({ cloudId: 'cloud/b' });

    const lease = await repos[1].tryLease(a.id, a.tokenVersion, 'r2', 60_000, () => false);
    expect(lease.kind).toBe('acquired');
    if (lease.kind !== 'acquired') return;
    expect(await repos[1].commitRefresh(lease.connection, 'r2', tokens(3))).toBe(true);
    expect((await repos[0].get(a.id))?.apiValues).toEqual({ cloudId: 'cloud-a' });

    const moved = await link('alice', 4, { cloudId: 'cloud-c' });
    expect([moved.id, moved.apiValues]).toEqual([a.id, { cloudId: 'cloud-c' }]);
    expect((await link('alice', 5)).apiValues).toEqual({});
    expect((await repos[1].get(b.id))?.apiValues).toEqual({ cloudId: 'cloud/b' });
  });

  it('moved to another site by a relink restart its pollers from the start; the same site keeps them', async () => {
    const c = await link('alice', 1, { cloudId: 'site-1' });
    await pg.store.exec(
      "INSERT INTO pollers (connection_id, feed, integration, cursor, next_run_at, interval_ms, created_at, updated_at) VALUES ($1, 'events', 'jira', '\"c-9\"', $2, 60000, 1, 1)",
      [c.id, clock.now() + 600_000],
    );
    const cursor = async () => (await pg.store.query('SELECT cursor FROM pollers WHERE connection_id = $1', [c.id]))[0]?.['cursor'];
    await link('alice', 2, { cloudId: 'site-1' });
    expect(await cursor()).toBe('"c-9"');
    await link('alice', 3, { cloudId: 'site-2' });
    expect(await cursor()).toBeNull();
  });
});

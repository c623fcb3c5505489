/**
 * The repository contracts (test/store/contracts) against PostgreSQL: one migrated database for
 * the file, emptied between tests. A PostgreSQL repository adds its contract call here, as
 * test/store/repositories.test.ts does for SQLite.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';

const clock = manualClock();
let pg: MigratedDatabase;

describePg('PostgreSQL contract harness', () => {
  // Inside the describe: a skipped suite runs none of its hooks.
  beforeAll(async () => {
    pg = await migratedDatabase(clock);
  });
  afterAll(async () => {
    await pg?.drop();
  });
  beforeEach(async () => {
    await pg.reset();
  });

  it('reset empties every table and restarts its sequence, and keeps the schema', async () => {
    const insert = (id: string) =>
      pg.store.one(
        `INSERT INTO inbox_events (id, integration, endpoint, type, source, received_at, payload, state, next_attempt_at, updated_at)
         VALUES ($1, 'gh', 'e', 't', 'poll', 0, '\\x00', 'pending', 0, 0) RETURNING seq`,
        [id],
        (r) => r.seq,
      );
    expect(await insert('a')).toBe(1);
    await pg.store.exec(`INSERT INTO hub_secrets (name, value, created_at) VALUES ('k', 'v', 0)`);
    await pg.reset();
    expect(await pg.store.query('SELECT name FROM hub_secrets')).toEqual([]);
    expect(await insert('a')).toBe(1);
    expect(await pg.store.query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version })));
  });
});

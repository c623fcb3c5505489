import type pg from 'pg';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import type { AppliedMigration } from '../db.js';
import type { Migration } from '../migrations.js';
import { API_VALUES_SQL, APP_QUEUES_SQL, OUTBOX_SITE_SQL } from '../migrations-events.js';
import type { PgStore } from './pool.js';
import { EVENTS_SQL } from './schema/events.js';
import { HELD_NAMES_SQL } from './schema/held-names.js';
import { IDENTITY_SQL } from './schema/identity.js';
import { JOBS_SQL } from './schema/jobs.js';
import { PACING_SQL } from './schema/pacing.js';
import { REPLICAS_SQL } from './schema/replicas.js';

/**
 * PostgreSQL's numbered migrations. No PostgreSQL store predates this list, so migration 1 is the
 * whole schema the 16 SQLite migrations build; a later change to either store appends a
 * migration here too. Append only, as for SQLite: an applied migration is never edited.
 */
export const PG_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial_schema', sql: IDENTITY_SQL + EVENTS_SQL + JOBS_SQL },
  { version: 5, name: 'replicas', sql: REPLICAS_SQL },
  // SQLite migration 19: when a poller's cursor took its value, so the purge keeps what it re-reads.
  { version: 6, name: 'poller_cursor_at', sql: 'ALTER TABLE pollers ADD COLUMN cursor_at BIGINT;' },
  // SQLite migration 20: the rate-limit buckets processes share without Redis.
  { version: 7, name: 'pace_buckets', sql: PACING_SQL },
  // SQLite migration 21: the hub's error code of a write that failed before the provider answered.
  { version: 8, name: 'outbox_error_code', sql: 'ALTER TABLE outbox_jobs ADD COLUMN last_error_code TEXT;' },
  // SQLite migration 22: the failures an async agent task's submission met, sealed, for its result.
  { version: 9, name: 'agent_task_failures', sql: 'ALTER TABLE agent_tasks ADD COLUMN failures TEXT;' },
  // SQLite migration 23: the tool names replicas hand out, shared so a name means one tool on all of them.
  { version: 10, name: 'held_names', sql: HELD_NAMES_SQL },
  // SQLite migration 24: each user's writes made with an integration's key from config in a queue of their own.
  { version: 11, name: 'outbox_app_queues', sql: APP_QUEUES_SQL },
  // SQLite migration 25: the values of an integration's apiBaseUrl placeholders, per connection.
  { version: 12, name: 'connection_api_values', sql: API_VALUES_SQL },
  // SQLite migration 26: which site a queued write's connection was on, so a relink elsewhere sends it nowhere.
  { version: 13, name: 'outbox_site_digest', sql: OUTBOX_SITE_SQL },
];

/**
 * The advisory lock key replicas take to migrate one at a time. Any constant works as long as it
 * never changes and nothing else in the database uses it: these are "SWBD" and "MIGR" in ASCII.
 */
export const MIGRATION_LOCK_KEY = 0x53574244_4d494752n;

/**
 * Applies pending migrations, each in its own transaction, and records each in schema_migrations.
 * Replicas starting together queue on a session advisory lock: the first applies, the others then
 * find nothing pending. The lock is the connection's, so a replica that dies while migrating
 * frees it with its connection, and its open transaction rolls back. Returns what it applied.
 */
export async function migratePg(store: PgStore, clock: Clock, migrations: readonly Migration[] = PG_MIGRATIONS): Promise<AppliedMigration[]> {
  let client: pg.PoolClient;
  try {
    client = await store.pool.connect();
  } catch (err) {
    throw new HubError('store_failed', `cannot connect to ${store.safeUrl} to migrate: ${store.scrub((err as Error).message)}`, { cause: err });
  }
  const done: AppliedMigration[] = [];
  let current: Migration | undefined;
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        current = m;
        await client.query('BEGIN');
        try {
          // A simple query (no parameters) may hold several statements.
          await client.query(m.sql);
          const at = clock.now();
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, at]);
          await client.query('COMMIT');
          done.push({ version: m.version, name: m.name, applied_at: at });
        } catch (err) {
          await client.query('ROLLBACK').catch((rollbackErr: Error) => {
            broken = rollbackErr;
          });
          throw err;
        }
        current = undefined;
      }
    } finally {
      if (broken === undefined) await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
    return done;
  } catch (err) {
    const which = current === undefined ? '' : ` migration ${current.version} (${current.name})`;
    throw new HubError('store_failed', `cannot migrate the PostgreSQL store${which}: ${store.scrub((err as Error).message)}`, {
      cause: err,
      details: { database: store.safeUrl },
    });
  } finally {
    // A connection that failed mid-migration is closed rather than reused: that also ends its lock.
    client.release(broken);
  }
}

/** What schema_migrations records, in order. */
export async function appliedPgMigrations(store: PgStore): Promise<AppliedMigration[]> {
  return store.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version', [], (r) => ({
    version: Number(r.version),
    name: String(r.name),
    applied_at: Number(r.applied_at),
  }));
}

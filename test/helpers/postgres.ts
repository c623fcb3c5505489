/**
 * A real PostgreSQL for the test/pg suites. The server is `SWITCHBOARD_TEST_PG_URL` (an admin URL:
 * a role that may CREATE DATABASE) when set, else a throwaway cluster started from the PostgreSQL
 * binaries on PATH or in /usr/lib/postgresql/<version>/bin, on a temp dir and a free loopback port,
 * trust auth, fsync off. Each suite takes an empty database of its own from `freshDatabase()`.
 *
 * No server and no binaries: the suites are skipped with the reason printed, unless
 * SWITCHBOARD_REQUIRE_PG=1 (CI), where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { findPgBin, isRoot, PG_URL_ENV, type PgServer, postgresUser, startPostgres } from '../../bench/services.js';
import { type Clock, manualClock } from '../../src/clock.js';
import { migratePg } from '../../src/store/pg/migrations.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';

declare module 'vitest' {
  interface ProvidedContext {
    /** Set by test/pg/global-setup.ts: one cluster for the whole run. Empty when there is none. */
    switchboardPgAdminUrl: string;
  }
}

const ENV_URL = PG_URL_ENV;

// Start-up is shared with `npm run bench:store` (bench/services.ts); the skip rules are the suites' own.
export { findPgBin, type PgServer, startPostgres };

/** Why the PostgreSQL suites cannot run here, or null when they can. Throws when CI requires them. */
function skipReason(): string | null {
  if (process.env[ENV_URL]) return null;
  let reason: string | null = null;
  if (findPgBin() === undefined) reason = `no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin, and ${ENV_URL} is not set`;
  else if (isRoot() && postgresUser() === undefined) reason = 'running as root and there is no `postgres` OS user to run the server as';
  if (reason !== null && process.env.SWITCHBOARD_REQUIRE_PG === '1') throw new Error(`SWITCHBOARD_REQUIRE_PG=1 but ${reason}`);
  return reason;
}

export const PG_SKIP_REASON: string | null = skipReason();
if (PG_SKIP_REASON !== null) console.warn(`PostgreSQL suites skipped: ${PG_SKIP_REASON}`);

/** `describe` that skips its suite when there is no PostgreSQL to test on. */
export const describePg = describe.skipIf(PG_SKIP_REASON !== null);

let ownServer: Promise<PgServer> | undefined;

async function adminUrl(): Promise<string> {
  if (process.env[ENV_URL]) return process.env[ENV_URL];
  const provided = inject('switchboardPgAdminUrl');
  if (provided) return provided;
  ownServer ??= startPostgres();
  return (await ownServer).adminUrl;
}

export interface FreshDatabase {
  /** A URL to the new, empty database. */
  url: string;
  name: string;
  /** Drops it, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** An empty database with a random name on the test server; drop it in the suite's afterAll. */
export async function freshDatabase(): Promise<FreshDatabase> {
  const admin = await adminUrl();
  const name = `switchboard_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function withAdmin<R>(url: string, fn: (c: pg.Client) => Promise<R>): Promise<R> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface MigratedDatabase extends FreshDatabase {
  /** A pool on it, the schema applied. */
  store: PgStore;
  /** Empties every table but schema_migrations and restarts their sequences: one test's rows never reach the next. */
  reset(): Promise<void>;
  /** Closes the pool, then drops the database. */
  drop(): Promise<void>;
}

/**
 * A fresh database with every PostgreSQL migration applied and a pool open on it: what a
 * contract suite wants once per file (beforeAll), with `reset()` between its tests, since a
 * CREATE DATABASE per test would cost far more than the test.
 */
export async function migratedDatabase(clock: Clock = manualClock()): Promise<MigratedDatabase> {
  const db = await freshDatabase();
  const store = openPgStore({ url: db.url });
  try {
    await migratePg(store, clock);
  } catch (err) {
    await store.close();
    await db.drop();
    throw err;
  }
  const tables = (await store.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"))
    .map((r) => `"${String(r.tablename)}"`)
    .join(', ');
  return {
    ...db,
    store,
    reset: async () => {
      await store.exec(`TRUNCATE ${tables} RESTART IDENTITY`);
    },
    drop: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/**
 * Inside a describe (a skipped suite runs none of its hooks): a migrated database for the whole
 * file and a second pool on it, the other replica, handed to `set` once made; both closed after.
 */
export function migratedWithReplica(set: (pg: MigratedDatabase, replica: PgStore) => void): void {
  let pg: MigratedDatabase | undefined;
  let replica: PgStore | undefined;
  beforeAll(async () => {
    pg = await migratedDatabase();
    replica = openPgStore({ url: pg.url });
    set(pg, replica);
  });
  afterAll(async () => {
    await replica?.close();
    await pg?.drop();
  });
}

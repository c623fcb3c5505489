/**
 * A real PostgreSQL for the test/pg suites. The server is `SWITCHBOARD_TEST_PG_URL` (an admin URL:
 * a role that may CREATE DATABASE) when set, else a throwaway cluster started from the PostgreSQL
 * binaries on PATH or in /usr/lib/postgresql/<version>/bin, on a temp dir and a free loopback port,
 * trust auth, fsync off. Each suite takes an empty database of its own from `freshDatabase()`.
 *
 * No server and no binaries: the suites are skipped with the reason printed, unless
 * SWITCHBOARD_REQUIRE_PG=1 (CI), where that is a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { type Clock, manualClock } from '../../src/clock.js';
import { migratePg } from '../../src/store/pg/migrations.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';

declare module 'vitest' {
  interface ProvidedContext {
    /** Set by test/pg/global-setup.ts: one cluster for the whole run. Empty when there is none. */
    switchboardPgAdminUrl: string;
  }
}

const ENV_URL = 'SWITCHBOARD_TEST_PG_URL';

/** The folder holding initdb, pg_ctl and postgres, or undefined. */
export function findPgBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  // Debian and Ubuntu keep the server binaries off PATH, one folder per major version.
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

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

export interface PgServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres, or SWITCHBOARD_TEST_PG_URL. */
  adminUrl: string;
  /** Stops the cluster and removes its folder; a no-op for an external server. */
  stop(): void;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** PostgreSQL refuses to run as root: as root, the server's commands run as `postgres`. */
function run(bin: string, args: string[]): void {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a throwaway cluster (or names the external server). The caller stops it; `freshDatabase`
 * starts one per process on first use when no global setup provided one.
 */
export async function startPostgres(): Promise<PgServer> {
  const external = process.env[ENV_URL];
  if (external) return { adminUrl: external, stop: () => {} };
  const bin = findPgBin();
  if (bin === undefined) throw new Error(PG_SKIP_REASON ?? 'no PostgreSQL binaries');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-pg-'));
  const data = join(dir, 'data');
  if (isRoot()) {
    const user = postgresUser();
    if (user === undefined) throw new Error('no postgres OS user');
    chownSync(dir, user.uid, user.gid);
  }
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freePort();
    // Durability is not under test: fsync and friends off make a cluster start and a DDL fast.
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        cleanup();
      }
    };
    process.once('exit', stop);
    return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (err) {
    cleanup();
    throw err;
  }
}

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

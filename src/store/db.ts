import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { makeDir } from '../make-dir.js';
import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { storeFailure } from './sqlite-failure.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** A file path, or ':memory:' in unit tests. */
  file: string;
  clock: Clock;
  migrations?: readonly Migration[];
  readonly?: boolean;
}

/** Opens the database in WAL mode and applies pending migrations. */
export function openDb(opts: OpenOptions): Db {
  if (opts.file !== ':memory:' && !opts.readonly) {
    try {
      restrictFiles(opts.file);
    } catch (err) {
      throw new HubError('store_failed', `cannot make the database ${opts.file}: ${(err as Error).message}`, { cause: err });
    }
  }
  let db: Db;
  try {
    db = new Database(opts.file, { readonly: opts.readonly ?? false });
  } catch (err) {
    const failure = storeFailure(opts.file, err);
    // better-sqlite3 throws a TypeError of its own for a directory that is not there.
    throw failure instanceof HubError ? failure : new HubError('store_failed', `cannot open database ${opts.file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    prepare(db, opts);
  } catch (err) {
    // A damaged, full or unwritable database shows itself at the first read or write, here.
    if (db.open) db.close();
    throw storeFailure(opts.file, err);
  }
  return db;
}

function prepare(db: Db, opts: OpenOptions): void {
  // A stdio and a serve process (and a CLI command) may share the file: wait for another's lock
  // instead of failing. First of all: even `journal_mode = WAL` on a file already in WAL mode takes
  // a lock, and met another process's checkpoint with SQLITE_BUSY ("database is locked") at once.
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    setWal(db, opts.file);
    // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commit.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.clock, opts.migrations ?? MIGRATIONS);
  }
}

/**
 * The store holds hashed hub tokens, sealed secrets and the vault's wrapped keys: only the hub's
 * user may read it. A data dir this call creates is 0700; the database file is created 0600 before
 * SQLite opens it, and SQLite gives its -wal and -shm files the database file's permissions
 * (sqlite.org/src, os_unix.c findCreateFileMode). A file left looser by an older version is tightened.
 */
export function restrictFiles(file: string): void {
  const dir = dirname(file);
  const created = makeDir(dir, 0o700);
  // mkdir's mode is filtered by the umask; set it exactly. A directory that already existed is the user's choice.
  if (created !== undefined) chmodSync(dir, 0o700);
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch (err) {
      // A missing -wal/-shm is normal; a file owned by another user keeps its mode, as SQLite will report.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
}

export interface AppliedMigration {
  version: number;
  name: string;
  applied_at: number;
}

/** Applies each pending migration in its own transaction and records it. Returns what it applied. */
export function migrate(db: Db, clock: Clock, migrations: readonly Migration[] = MIGRATIONS): AppliedMigration[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  // A schema this build does not know was written by a newer one: its tables may mean what this
  // code cannot read or would damage, so nothing runs on it. (No migrations given: opened without
  // migrating, for the caller to migrate next; the check comes then.)
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (migrations.length > 0 && newest > known) {
    throw new HubError(
      'store_failed',
      `the database ${db.name} has schema version ${newest}, newer than this Switchboard knows (${known}): it was written by a newer version. Run that version, or point --data at another data dir`,
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: AppliedMigration[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    // IMMEDIATE takes the write lock first, so two processes starting together cannot both apply it.
    db.transaction(() => {
      const again = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (again) return;
      db.exec(m.sql);
      const at = clock.now();
      record.run(m.version, m.name, at);
      done.push({ version: m.version, name: m.name, applied_at: at });
    }).immediate();
  }
  return done;
}

export function appliedMigrations(db: Db): AppliedMigration[] {
  return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as AppliedMigration[];
}

/**
 * WAL mode: the first statement that reads the file, so the one that finds it is not a database
 * (another program's file, a truncated copy, a key file put in its place). SQLite's words alone,
 * "file is not a database", name neither the file nor what to do.
 */
function setWal(db: Db, file: string): void {
  try {
    db.pragma('journal_mode = WAL');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'SQLITE_NOTADB') throw err;
    db.close();
    throw new HubError('store_failed', `${file} is not a SQLite database (SQLite: ${(err as Error).message}); move it aside, or pick another --data`, {
      cause: err,
    });
  }
}

import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { HubError } from '../errors.js';

/**
 * SQLite's own words ("database disk image is malformed", "database or disk is full", "unable to
 * open database file") name neither the file nor what to do; every failure carries a code. This
 * turns an error SQLite raised while opening or migrating `file` into store_failed with both.
 * Anything else (a HubError already, a bug) is returned unchanged.
 */
export function storeFailure(file: string, err: unknown): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  return new HubError('store_failed', `${file}: ${err.message}; ${adviceFor(err.code, file)}`, { cause: err, details: { sqlite: err.code } });
}

/** Primary result codes (the part before any "_EXTENDED" suffix): sqlite.org/rescode.html. */
function adviceFor(code: string, file: string): string {
  const dir = dirname(file);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return `the file is damaged: restore it from a backup, or save what is readable with \`sqlite3 ${file} .recover | sqlite3 recovered.db\` and put recovered.db in its place while no hub runs`;
  }
  if (code.startsWith('SQLITE_FULL')) return `the disk holding ${dir} is full: free space there and run this again`;
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return `check that this user may read and write ${dir} and the files in it (switchboard.db and its -wal and -shm files), and that the file system is not mounted read-only`;
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return 'another process kept it locked longer than the 5 s wait: run this again once that process is done';
  }
  if (code.startsWith('SQLITE_IOERR')) return `the disk reported an I/O error: check the disk and the file system holding ${dir}`;
  return `check the file and its data dir ${dir}`;
}

/**
 * SQLite's primary result codes that say the store itself could not serve a statement: another
 * process held the write lock past busy_timeout, the disk is full or failing, the file turned
 * read-only or cannot be opened (https://www.sqlite.org/rescode.html). better-sqlite3 reports the
 * extended code (`SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`), which starts with its primary one.
 * A constraint or a misuse is a defect of the hub, not a failure of the store, and stays out.
 */
const STORE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN'] as const;

/** The SQLite code of an error the store could not help, else `undefined`. */
function storeCodeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code !== 'string') return undefined;
  return STORE_CODES.some((c) => code === c || code.startsWith(`${c}_`)) ? code : undefined;
}

/**
 * A SQLite store failure as `store_failed` (retryable: the lock is released, the disk freed), worded
 * as the hub's store's fault so a tool call that met it does not blame the integration it was for.
 * `undefined` for any other error. PostgreSQL and Redis failures already arrive as `store_failed`
 * from their own clients (src/store/pg/pool.ts, src/store/redis/client.ts).
 */
export function storeFailureOf(err: unknown, doing: string): HubError | undefined {
  const code = storeCodeOf(err);
  if (code === undefined) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new HubError('store_failed', `the hub's store failed while ${doing}: ${message} (${code})`, { cause: err });
}

import { HubError } from '../errors.js';

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

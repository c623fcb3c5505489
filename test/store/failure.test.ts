/** Which SQLite errors are the store's failure (`store_failed`, retryable) rather than the caller's or the hub's defect. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { storeFailureOf } from '../../src/store/sqlite-failure.js';

describe('storeFailureOf', () => {
  it.each(['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CANTOPEN'])('maps %s to store_failed', (code) => {
    const e = storeFailureOf(new Database.SqliteError('it failed', code), 'calling notes__create');
    expect(e && { code: e.code, retryable: e.spec.retryable, message: e.message }).toEqual({
      code: 'store_failed',
      retryable: true,
      message: `the hub's store failed while calling notes__create: it failed (${code})`,
    });
  });

  it('leaves constraint violations, misuse and errors without a SQLite code alone', () => {
    expect(storeFailureOf(new Database.SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'), 'x')).toBeUndefined();
    expect(storeFailureOf(new Database.SqliteError('bad', 'SQLITE_MISUSE'), 'x')).toBeUndefined();
    expect(storeFailureOf(new Error('SQLITE_BUSY'), 'x')).toBeUndefined();
    expect(storeFailureOf({ code: 'SQLITE_BUSYNESS' }, 'x')).toBeUndefined();
  });
});

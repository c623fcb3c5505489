/**
 * A database that is damaged, fills the disk, or cannot be opened: SQLite's bare words ("database
 * disk image is malformed") used to reach the user with no code, no file and no advice. Each is
 * now store_failed naming the file, SQLite's words, and what to do.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { runCliEnv } from '../cli/run-env.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function dataDir(): string {
  const dir = tmpDir('switchboard-open-fail-');
  dirs.push(dir);
  return dir.path;
}

describe('a store that cannot be opened or written', () => {
  it('a truncated switchboard.db: every command says store_failed, the file, and to restore or recover it', async () => {
    const root = dataDir();
    const data = join(root, 'data');
    const made = await runCliEnv(['tokens', 'create', '--user', 'alice', '--data', data], root, { SWITCHBOARD_MASTER_KEY: '' });
    expect(made.code, made.stderr).toBe(0);
    const file = join(data, 'switchboard.db');
    writeFileSync(file, readFileSync(file).subarray(0, 8192));
    const r = await runCliEnv(['tokens', 'list', '--data', data], root, { SWITCHBOARD_MASTER_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `switchboard: error (store_failed): ${file}: database disk image is malformed; the file is damaged: restore it from a backup, or save what is readable with \`sqlite3 ${file} .recover | sqlite3 recovered.db\``,
    );
  });

  it('a full disk while migrating: store_failed naming the file and to free space', () => {
    const dir = dataDir();
    const file = join(dir, 'switchboard.db');
    // max_page_count makes SQLite report SQLITE_FULL exactly as a full disk does.
    const filling = {
      version: 9999,
      name: 'fill',
      sql: 'PRAGMA max_page_count = 40; CREATE TABLE filler (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO filler SELECT randomblob(4096) FROM n;',
    };
    const err = hubErrorOf(() => openDb({ file, clock, migrations: [...MIGRATIONS, filling] }));
    expect(err.code).toBe('store_failed');
    expect(err.message).toBe(`${file}: database or disk is full; the disk holding ${dir} is full: free space there and run this again`);
  });

  it('a file that cannot be opened: store_failed naming it and the permissions to check', () => {
    const dir = dataDir();
    const file = join(dir, 'missing.db');
    const err = hubErrorOf(() => openDb({ file, clock, readonly: true }));
    expect(err.code).toBe('store_failed');
    expect(err.message).toBe(
      `${file}: unable to open database file; check that this user may read and write ${dir} and the files in it (switchboard.db and its -wal and -shm files), and that the file system is not mounted read-only`,
    );
  });
});

import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const mode = (p: string) => statSync(p).mode & 0o777;

describe('database files are readable by the hub user only', () => {
  it('a first start creates the data dir 0700 and the database, -wal and -shm 0600', async () => {
    const parent = tmpDir('switchboard-modes-');
    dirs.push(parent);
    const data = join(parent.path, 'fresh', 'data');
    // tokens create opens the store and writes to it: the same first start serve makes.
    const r = await runCli(['tokens', 'create', '--user', 'alice', '--data', data], parent.path);
    expect(r.code).toBe(0);
    expect(mode(data)).toBe(0o700);
    const db = join(data, 'switchboard.db');
    const files = [db, `${db}-wal`, `${db}-shm`].filter(existsSync);
    expect(files.map((f) => [f, mode(f)])).toEqual(files.map((f) => [f, 0o600]));
    expect(files).toContain(db);
  }, 60_000);

  it('tightens a database file an older version left readable to others, and its WAL companions', () => {
    const d = tmpDir('switchboard-modes-');
    dirs.push(d);
    const file = join(d.path, 'switchboard.db');
    openDb({ file, clock: manualClock() }).close();
    writeFileSync(`${file}-wal`, '');
    chmodSync(file, 0o644);
    chmodSync(`${file}-wal`, 0o644);
    const db = openDb({ file, clock: manualClock() });
    db.prepare('SELECT 1').get();
    expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    db.close();
  });

  it('leaves the mode of a data dir the user made alone', () => {
    const d = tmpDir('switchboard-modes-');
    dirs.push(d);
    chmodSync(d.path, 0o750);
    openDb({ file: join(d.path, 'switchboard.db'), clock: manualClock() }).close();
    expect(mode(d.path)).toBe(0o750);
    expect(mode(join(d.path, 'switchboard.db'))).toBe(0o600);
  });
});

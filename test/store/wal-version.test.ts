import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb, type Db } from '../../src/store/db.js';
import { WalVersion } from '../../src/store/wal-version.js';
import { tmpDir } from '../helpers/hub.js';

describe('the WAL version of a database file', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let other: Db;
  let version: WalVersion;

  beforeEach(() => {
    dir = tmpDir();
    const file = join(dir.path, 'switchboard.db');
    const clock = manualClock(0);
    db = openDb({ file, clock });
    // Another connection stands for another process on the same data dir (a CLI command).
    other = openDb({ file, clock });
    db.exec('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
    version = new WalVersion(db);
  });
  afterEach(() => {
    other.close();
    if (db.open) db.close();
    dir.remove();
  });

  it('stays the same while nothing is committed, reads included', () => {
    const v = version.read();
    expect(v).toBeDefined();
    other.prepare('SELECT count(*) FROM t').get();
    db.prepare('SELECT count(*) FROM t').get();
    expect(version.read()).toBe(v);
  });

  it("changes with another connection's commit and with its own", () => {
    const v0 = version.read();
    other.prepare('INSERT INTO t VALUES (1)').run();
    const v1 = version.read();
    expect(v1).toBeDefined();
    expect(v1).not.toBe(v0);
    db.prepare('INSERT INTO t VALUES (2)').run();
    expect(version.read()).not.toBe(v1);
  });

  it('changes when a checkpoint restarts the log, so an old version never comes back', () => {
    const seen = new Set<string>([version.read()!]);
    for (let i = 0; i < 5; i++) {
      other.prepare('INSERT INTO t VALUES (?)').run(i);
      other.pragma('wal_checkpoint(TRUNCATE)');
      const v = version.read()!;
      expect(seen.has(v)).toBe(false);
      seen.add(v);
    }
  });

  it('cannot say for an in-memory database or a closed one', () => {
    const mem = openDb({ file: ':memory:', clock: manualClock(0) });
    expect(new WalVersion(mem).read()).toBeUndefined();
    mem.close();
    expect(version.read()).toBeDefined();
    db.close();
    expect(version.read()).toBeUndefined();
  });
});

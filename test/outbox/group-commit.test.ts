import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { GroupCommit } from '../../src/outbox/group-commit.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

describe('GroupCommit on a SQLite file', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  /** A second connection, as another process: it sees only what is committed. */
  let reader: Db;

  beforeEach(() => {
    dir = tmpDir();
    const file = join(dir.path, 'switchboard.db');
    db = openDb({ file, clock: manualClock() });
    db.exec('CREATE TABLE items (name TEXT PRIMARY KEY)');
    reader = new Database(file, { readonly: true });
  });

  afterEach(() => {
    reader.close();
    db.close();
    dir.remove();
  });

  const count = () => (reader.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;

  it('commits the writes of one turn together; one that throws is undone alone and only its caller hears', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
    const seenByOthers: number[] = [];
    const a = group.run(() => insert.run('a').changes);
    const bad = group.run(() => {
      insert.run('half-done');
      throw new Error('refused');
    });
    const b = group.run(() => {
      // Still one transaction: another connection does not see the first write yet.
      seenByOthers.push(count());
      return insert.run('b').changes;
    });
    expect(count()).toBe(0);
    await expect(bad).rejects.toThrow('refused');
    expect(await Promise.all([a, b])).toEqual([1, 1]);
    expect(seenByOthers).toEqual([0]);
    expect(reader.prepare('SELECT name FROM items ORDER BY name').pluck().all()).toEqual(['a', 'b']);
  });

  it('a write in a later turn is its own group, and a caller hears only after its commit', async () => {
    const group = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO items (name) VALUES (?)');
    await group.run(() => insert.run('first'));
    expect(count()).toBe(1);
    // A constraint failure is the caller's alone; the group's other write stands.
    const dup = group.run(() => insert.run('first'));
    const other = group.run(() => insert.run('second'));
    await expect(dup).rejects.toThrow(/UNIQUE/);
    await other;
    expect(count()).toBe(2);
  });
});

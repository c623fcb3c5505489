import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { appliedMigrations, migrate, openDb, type Db } from '../../src/store/db.js';
import { MIGRATIONS, type Migration } from '../../src/store/migrations.js';
import { tmpDir } from '../helpers/hub.js';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

const steps: Migration[] = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)' },
  { version: 2, name: 'notes_title', sql: "ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT ''" },
  { version: 3, name: 'tags', sql: 'CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT NOT NULL)' },
];

function tables(db: Db): string[] {
  return z.array(z.string()).parse(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all());
}

describe('migrations', () => {
  it('applies pending migrations in version order and records each with the injected clock', () => {
    const db = new Database(':memory:');
    const clock = manualClock(T0);
    // Listed out of order: version 2 alters the table version 1 creates, so order matters.
    const done = migrate(db, clock, [steps[2]!, steps[0]!, steps[1]!]);
    expect(done).toEqual([
      { version: 1, name: 'notes', applied_at: T0 },
      { version: 2, name: 'notes_title', applied_at: T0 },
      { version: 3, name: 'tags', applied_at: T0 },
    ]);
    expect(appliedMigrations(db)).toEqual(done);
    expect(tables(db)).toEqual(['notes', 'schema_migrations', 'tags']);
    db.prepare('INSERT INTO notes (body, title) VALUES (?, ?)').run('b', 't');
    db.close();
  });

  it('applies nothing when run again, and only the new ones when more are added', () => {
    const db = new Database(':memory:');
    const clock = manualClock(T0);
    migrate(db, clock, steps.slice(0, 2));
    clock.advance(60_000);
    expect(migrate(db, clock, steps.slice(0, 2))).toEqual([]);
    clock.advance(60_000);
    expect(migrate(db, clock, steps)).toEqual([{ version: 3, name: 'tags', applied_at: T0 + 120_000 }]);
    expect(appliedMigrations(db).map((m) => [m.version, m.applied_at])).toEqual([
      [1, T0],
      [2, T0],
      [3, T0 + 120_000],
    ]);
    expect(migrate(db, clock, steps)).toEqual([]);
    db.close();
  });

  it('refuses a database a newer version migrated further, naming both versions, and changes nothing', () => {
    const db = new Database(':memory:');
    const clock = manualClock(T0);
    migrate(db, clock, steps);
    expect(() => migrate(db, clock, steps.slice(0, 2))).toThrow(/schema version 3, newer than this Switchboard knows \(2\)/);
    expect(appliedMigrations(db).map((m) => m.version)).toEqual([1, 2, 3]);
    db.close();
  });

  it('rolls back a failing migration and records nothing for it', () => {
    const db = new Database(':memory:');
    const clock = manualClock(T0);
    const broken: Migration = {
      version: 2,
      name: 'half_done',
      // The first statement succeeds and the second fails: the table must not survive the failure.
      sql: 'CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1);',
    };
    expect(() => migrate(db, clock, [steps[0]!, broken, steps[2]!])).toThrow(/no_such_table/);
    expect(appliedMigrations(db)).toEqual([{ version: 1, name: 'notes', applied_at: T0 }]);
    expect(tables(db)).toEqual(['notes', 'schema_migrations']);

    // Once fixed, the same version applies, followed by the later one it blocked.
    const fixed: Migration = { version: 2, name: 'half_done', sql: 'CREATE TABLE half (id INTEGER)' };
    clock.advance(1000);
    expect(migrate(db, clock, [steps[0]!, fixed, steps[2]!]).map((m) => m.version)).toEqual([2, 3]);
    expect(tables(db)).toEqual(['half', 'notes', 'schema_migrations', 'tags']);
    db.close();
  });

  it('openDb applies the shipped migrations once', () => {
    const clock = manualClock(T0);
    const db = openDb({ file: ':memory:', clock });
    expect(appliedMigrations(db).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(appliedMigrations(db).every((m) => m.applied_at === T0)).toBe(true);
    expect(migrate(db, clock)).toEqual([]);
    db.close();
  });

  it('openDb opens files in WAL mode and does not re-apply on the next open', () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'nested', 'hub.db');
      const clock = manualClock(T0);
      const first = openDb({ file, clock });
      expect(first.pragma('journal_mode', { simple: true })).toBe('wal');
      first.close();
      clock.advance(5000);
      const second = openDb({ file, clock });
      expect(appliedMigrations(second).every((m) => m.applied_at === T0)).toBe(true);
      second.close();
    } finally {
      dir.remove();
    }
  });

  it('shipped migrations have unique, increasing versions', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(new Set(versions).size).toBe(versions.length);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });
});

import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { manualClock } from '../../src/clock.js';
import { isAlive, MISSED_BEATS } from '../../src/replicas/registry.js';
import { SqliteReplicaRegistry } from '../../src/replicas/sqlite.js';
import { join } from 'node:path';
import { openDb } from '../../src/store/db.js';
import { replicaRegistryContract } from './contract.js';

replicaRegistryContract('SQLite', () => {
  const clock = manualClock();
  // One store, two registries: two processes on one data dir.
  const db = openDb({ file: ':memory:', clock });
  return { a: new SqliteReplicaRegistry(db, { clock }), b: new SqliteReplicaRegistry(db, { clock }), clock };
});

describe('replica liveness', () => {
  it('follows the configured interval', async () => {
    const clock = manualClock();
    const db = openDb({ file: ':memory:', clock });
    const a = new SqliteReplicaRegistry(db, { clock, heartbeatMs: 100 });
    const b = new SqliteReplicaRegistry(db, { clock, heartbeatMs: 100 });
    await a.register({ id: 'a', url: 'http://127.0.0.1:1', startedAt: clock.now() });
    clock.advance(299);
    expect((await b.lookup('a'))?.alive).toBe(true);
    clock.advance(1);
    expect((await b.lookup('a'))?.alive).toBe(false);
  });

  it('a beat from the future (a clock ahead of ours) counts as alive', () => {
    expect(isAlive(1_000, 900, 5_000)).toBe(true);
    expect(isAlive(0, MISSED_BEATS * 5_000, 5_000)).toBe(false);
  });

  it('a beat never waits for another process holding the write lock: it is skipped, and the next one lands', async () => {
    const dir = tmpDir();
    const clock = manualClock();
    const file = join(dir.path, 'switchboard.db');
    const db = openDb({ file, clock });
    const other = openDb({ file, clock });
    try {
      const a = new SqliteReplicaRegistry(db, { clock, heartbeatMs: 100 });
      await a.register({ id: 'a', url: 'http://127.0.0.1:1', startedAt: clock.now() });
      other.exec('BEGIN IMMEDIATE');
      clock.advance(250);
      // With the store's 5 s busy timeout this beat would block the event loop; it returns at once.
      const started = Date.now();
      await a.heartbeat();
      expect(Date.now() - started).toBeLessThan(2_000);
      other.exec('ROLLBACK');
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5_000);
      clock.advance(100);
      expect((await new SqliteReplicaRegistry(other, { clock, heartbeatMs: 100 }).lookup('a'))?.alive).toBe(false);
      await a.heartbeat();
      expect((await new SqliteReplicaRegistry(other, { clock, heartbeatMs: 100 }).lookup('a'))?.alive).toBe(true);
    } finally {
      db.close();
      other.close();
      dir.remove();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startCheckpointer } from '../../src/store/checkpointer.js';
import { openDb } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const MB = 1024 * 1024;

/** Writes `total` bytes of rows in 1 MB transactions, pausing `pauseMs` between them so other threads run. */
async function write(db: ReturnType<typeof openDb>, total: number, pauseMs: number): Promise<void> {
  db.exec('CREATE TABLE IF NOT EXISTS blobs (b BLOB)');
  const insert = db.prepare('INSERT INTO blobs (b) VALUES (?)');
  const tx = db.transaction(() => {
    for (let i = 0; i < 64; i++) insert.run(randomBytes(16 * 1024));
  });
  for (let written = 0; written < total; written += MB) {
    tx();
    // The checkpoint thread runs on its own timer; a real pause lets it (this is about threads, not time).
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

const walSize = (file: string) => statSync(`${file}-wal`).size;

describe('WAL checkpoints on a thread of their own', () => {
  it('the thread keeps the WAL small while the main connection only checkpoints past its fallback; stop hands it back', async () => {
    const dir = tmpDir();
    const file = join(dir.path, 'switchboard.db');
    const db = openDb({ file, clock: systemClock });
    try {
      // A fallback far above what is written: only the thread can keep this WAL small.
      const cp = startCheckpointer(db, file, silentLogger(), 10, 100_000);
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(100_000);
      await write(db, 24 * MB, 60);
      // Without any checkpoint the WAL would hold all 24 MB; the thread lets it be reused.
      expect(walSize(file)).toBeLessThan(8 * MB);
      await cp.stop();
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    } finally {
      db.close();
      dir.remove();
    }
  });

  it('writes faster than the thread can checkpoint are bounded by the fallback', async () => {
    const dir = tmpDir();
    const file = join(dir.path, 'switchboard.db');
    const db = openDb({ file, clock: systemClock });
    try {
      const cp = startCheckpointer(db, file, silentLogger(), 1000, 1024);
      await write(db, 24 * MB, 0);
      expect(walSize(file)).toBeLessThan(8 * MB);
      await cp.stop();
    } finally {
      db.close();
      dir.remove();
    }
  });

  it('without either, a main connection that does not checkpoint lets the WAL grow (the checks above can fail)', async () => {
    const dir = tmpDir();
    const file = join(dir.path, 'switchboard.db');
    const db = openDb({ file, clock: systemClock });
    try {
      db.pragma('wal_autocheckpoint = 0');
      await write(db, 24 * MB, 0);
      expect(walSize(file)).toBeGreaterThan(20 * MB);
    } finally {
      db.close();
      dir.remove();
    }
  });
});

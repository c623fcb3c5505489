import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { runReplica } from '../../src/replicas/heartbeat.js';
import { PgReplicaRegistry } from '../../src/replicas/pg.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { eventually } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { describePg, migratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';
import { adminUrlOf, setDatabaseReachable } from './hub-support.js';

/**
 * A replica's heartbeat while PostgreSQL is away: it fails on every beat (every 5 s), and each
 * failure was a warning of its own, 720 an hour per replica for as long as the outage lasted,
 * beside the workers' one line a minute (README, "PostgreSQL": logged when the outage starts, when
 * its reason changes, once a minute while it lasts and when it works again, not once per retry).
 */
const messages = (lines: readonly string[]) => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);

describePg('the replica heartbeat while the database is away', () => {
  let db: MigratedDatabase;
  let store: PgStore;

  beforeAll(async () => {
    db = await migratedDatabase();
    // A pool of the replica's own, with short bounds: its connects fail at once while the database is away.
    store = openPgStore({ url: db.url, connectTimeoutMs: 1_000, onIdleError: () => {} });
  });

  afterAll(async () => {
    await setDatabaseReachable(adminUrlOf(db.url), db.name, true).catch(() => {});
    await store?.close();
    await db?.drop();
  });

  it('is told when its beats start failing and when they land again, not at every beat', async () => {
    const lines: string[] = [];
    const log = capturedLogger(lines);
    const clock = manualClock();
    let beats = 0;
    const registry = new (class extends PgReplicaRegistry {
      override heartbeat(): Promise<void> {
        beats++;
        return super.heartbeat();
      }
    })(store, { clock });
    const replica = await runReplica(registry, { id: 'replica-a', url: 'http://127.0.0.1:9', startedAt: clock.now() }, { log, everyMs: 20 });
    try {
      await setDatabaseReachable(adminUrlOf(db.url), db.name, false);
      const beatsAfter = async (n: number) => {
        const from = beats;
        await eventually(() => (beats - from >= n ? true : undefined), 20_000);
      };
      const told = () => messages(lines).filter((m) => /heartbeat/.test(m));
      // The first failures tell the outage (and its reason changing: connections ended, then refused)...
      await beatsAfter(10);
      const atFirst = told();
      expect(atFirst.length).toBeGreaterThanOrEqual(1);
      expect(atFirst.length).toBeLessThanOrEqual(2);
      // ...and the beats that fail after them, for the same reason, add nothing.
      await beatsAfter(20);
      expect(told()).toEqual(atFirst);
      await setDatabaseReachable(adminUrlOf(db.url), db.name, true);
      await eventually(() => (told().some((m) => /works again/.test(m)) ? true : undefined), 20_000);
      expect(new Set(told())).toEqual(
        new Set(['the replica heartbeat could not be written; it tries again', 'the replica heartbeat could not be written no longer: it works again']),
      );
    } finally {
      await replica.stop();
    }
  });
});

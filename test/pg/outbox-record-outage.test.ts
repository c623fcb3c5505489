/**
 * Issue 13: PostgreSQL away for a few seconds while a queued write is at the provider. The worker
 * holds the provider's answer and cannot record it; it keeps trying while its lease lasts, so once
 * the database is back the job is `done` with the answer and its waiter told — not left `sending`
 * until the lease runs out and then recovered as `sent_unconfirmed` (or sent again). The outage is
 * real: the database refuses connections and its sessions are ended, as in a restart.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { PgOutbox } from '../../src/outbox/pg.js';
import type { Job } from '../../src/outbox/types.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { eventually } from '../helpers/hub.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';
import { handTimers } from '../helpers/hand-timers.js';

const refusals: string[] = [];

/** The real PgOutbox, counting the writes of an outcome the database refused (for real). */
class CountingOutbox extends PgOutbox {
  override async complete(...a: Parameters<PgOutbox['complete']>): Promise<boolean> {
    try {
      return await super.complete(...a);
    } catch (err) {
      refusals.push(String((err as Error).message));
      throw err;
    }
  }
}

describePg('PostgreSQL away while a write is at the provider', () => {
  const clock = manualClock();
  let db: MigratedDatabase;
  let store: PgStore;
  let admin: pg.Client;
  let server: Server;
  let base: string;
  let writes = 0;

  beforeAll(async () => {
    db = await migratedDatabase(clock);
    store = openPgStore({ url: db.url, onIdleError: () => {} });
    // A session on another database (PostgreSQL will not disallow connections to the session's own):
    // it takes the test's database away and gives it back.
    const other = new URL(db.url);
    other.pathname = '/postgres';
    admin = new pg.Client({ connectionString: other.toString() });
    await admin.connect();
    server = createServer((_req, res) => {
      writes++;
      res.writeHead(201, { 'content-type': 'application/json' }).end(`{"number":${writes}}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await admin?.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`).catch(() => {});
    await admin?.end();
    await new Promise((r) => server?.close(r));
    await store?.close();
    await db?.drop();
  });

  async function takeDatabaseAway(): Promise<void> {
    await admin.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
  }

  it('records the answer once the database is back: done with the answer, the waiter told, one write', async () => {
    const outbox = new CountingOutbox(store, clock);
    const send: SendFn = async (job, signal, beforeSend) => {
      await beforeSend();
      const res = await fetch(`${base}/issues`, { method: 'POST', headers: { 'idempotency-key': job.id }, body: '{}', signal });
      const answer = { status: res.status, body: await res.text() };
      await takeDatabaseAway();
      return answer;
    };
    const hand = handTimers();
    const events = new JobEvents();
    const told: Job[] = [];
    const worker = new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, timers: hand.timers, owner: 'a' });
    const alice = { tenant: 'default', user: 'alice' };
    const { job } = await outbox.enqueue({ ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create', arguments: {} });
    events.on(job.id, (j) => told.push(j));

    const running = worker.runOnce();
    // Five seconds of the injected clock without a database, the worker's pauses let pass.
    let away = 0;
    let seen = 0;
    while (away < 5_000) {
      await eventually(() => (refusals.length > seen && hand.pending > 0 ? true : undefined));
      seen = refusals.length;
      away += hand.step(clock);
    }
    await eventually(() => (refusals.length > seen && hand.pending > 0 ? true : undefined));
    await admin.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
    hand.step(clock);
    await running;

    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(refusals.at(-1)).toMatch(/is not currently accepting connections/);
    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 1, result: { status: 201, body: '{"number":1}' } });
    expect(told.map((j) => [j.id, j.state])).toEqual([[job.id, 'done']]);
    expect(writes).toBe(1);
    expect(hand.pending).toBe(0);
  });
});

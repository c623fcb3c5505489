/**
 * A write the provider applied while the store could not be written (SQLITE_BUSY past
 * busy_timeout; on PostgreSQL a restart, see test/pg/outbox-record-outage.test.ts): the worker
 * holds the provider's answer and keeps trying to record it while its lease lasts, so the job ends
 * `done` with the answer, and its waiters are told, once the store answers again. Only when the
 * store stays away past the lease is the job left to recovery, as after a crash.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { FailOptions, Job, JobResult, JobState, OutboxQueue } from '../../src/outbox/types.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { handTimers } from '../helpers/hand-timers.js';

/** The real SQLite outbox, whose writes of outcomes fail with SQLITE_BUSY while `down`. */
class BusyOutcomes implements OutboxQueue {
  down = false;
  refused = 0;
  constructor(private readonly real: SqliteOutbox) {}
  private check(): void {
    if (!this.down) return;
    this.refused++;
    throw new Database.SqliteError('database is locked', 'SQLITE_BUSY');
  }
  claim = (o: Parameters<OutboxQueue['claim']>[0]) => this.real.claim(o);
  markSent = (id: string, owner: string, leaseMs: number) => this.real.markSent(id, owner, leaseMs);
  renew = (id: string, owner: string, leaseMs: number) => this.real.renew(id, owner, leaseMs);
  release = (id: string, owner: string, retryAt: number) => this.real.release(id, owner, retryAt);
  complete = async (id: string, owner: string, result: JobResult): Promise<boolean> => {
    this.check();
    return this.real.complete(id, owner, result);
  };
  fail = async (id: string, owner: string, o: FailOptions): Promise<JobState | false> => {
    this.check();
    return this.real.fail(id, owner, o);
  };
  unconfirmed = async (id: string, owner: string, error: string): Promise<boolean> => {
    this.check();
    return this.real.unconfirmed(id, owner, error);
  };
}

describe('an outcome the store cannot record at first', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let queue: BusyOutcomes;
  let server: Server;
  let base: string;
  let writes: number;
  const alice = { tenant: 'default', user: 'alice' };
  const leaseMs = 120_000;

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    queue = new BusyOutcomes(outbox);
    writes = 0;
    // The provider applies every write at once.
    server = createServer((_req, res) => {
      writes++;
      res.writeHead(201, { 'content-type': 'application/json' }).end(`{"number":${writes}}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    db.close();
    dir.remove();
  });

  /** Sends the job, taking the store away once the provider has answered. */
  const send: SendFn = async (job, signal, beforeSend) => {
    await beforeSend();
    const res = await fetch(`${base}/issues`, { method: 'POST', headers: { 'idempotency-key': job.id }, body: '{}', signal });
    const answer = { status: res.status, body: await res.text() };
    queue.down = true;
    return answer;
  };

  it('records the answer once the store is back, within the lease: done, the waiter told, nothing sent twice', async () => {
    const hand = handTimers();
    const events = new JobEvents();
    const told: Job[] = [];
    const a = new OutboxWorker({ queue, events, clock, log: silentLogger(), send, leaseMs, timers: hand.timers, owner: 'a' });
    const b = new OutboxWorker({ queue, events, clock, log: silentLogger(), send, leaseMs, owner: 'b', ownerIsDead: () => false });
    const { job } = await outbox.enqueue({ ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create', arguments: {} });
    events.on(job.id, (j) => told.push(j));
    const running = a.runOnce();
    // 30 s without a store, on the injected clock: each wait the worker asks for is let pass.
    let away = 0;
    let seen = 0;
    while (away < 30_000) {
      // A try was refused and its pause is pending (the renewal timer of the open request is gone by then).
      await eventually(() => (queue.refused > seen && hand.pending > 0 ? true : undefined));
      seen = queue.refused;
      away += hand.step(clock);
      // Another worker meanwhile finds the job still leased: it neither resends it nor gives it up.
      await b.runOnce();
    }
    expect(queue.refused).toBeGreaterThan(3);
    expect((await outbox.find(job.id))!.state).toBe('sending');
    // The store is back: the next try, at the end of the pause pending now, records the answer.
    queue.down = false;
    expect(hand.pending).toBe(1);
    hand.step(clock);
    await running;

    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 1, result: { status: 201, body: '{"number":1}' } });
    expect(told.map((j) => [j.id, j.state])).toEqual([[job.id, 'done']]);
    expect(writes).toBe(1);
    expect(hand.pending).toBe(0);
  });

  it('gives the job up to recovery only once its lease has run out', async () => {
    const hand = handTimers();
    const events = new JobEvents();
    const a = new OutboxWorker({ queue, events, clock, log: silentLogger(), send, leaseMs, timers: hand.timers, owner: 'a' });
    const { job } = await outbox.enqueue({ ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create', arguments: {} });
    const start = clock.now();
    let settled = false;
    const running = a.runOnce().then(
      () => undefined,
      (e: unknown) => e,
    );
    void running.finally(() => {
      settled = true;
    });
    let seen = 0;
    while (!settled) {
      await eventually(() => (settled || (queue.refused > seen && hand.pending > 0) ? true : undefined));
      seen = queue.refused;
      if (!settled) hand.step(clock);
    }
    const err = await running;
    expect(err).toBeInstanceOf(Database.SqliteError);
    // Retried up to the lease's end, no longer; the pauses stay a few seconds apart.
    expect(clock.now() - start).toBe(leaseMs);
    expect(queue.refused).toBeGreaterThan(leaseMs / 5_000);
    expect(queue.refused).toBeLessThan(leaseMs / 1_000);
    // The store back, the job is recovered like a crashed worker's: unkeyed, so not sent again.
    queue.down = false;
    clock.advance(1);
    const b = new OutboxWorker({ queue, events, clock, log: silentLogger(), send, leaseMs, owner: 'b', ownerIsDead: () => false });
    await b.runOnce();
    expect((await outbox.find(job.id))!.state).toBe('sent_unconfirmed');
    expect(writes).toBe(1);
  });
});

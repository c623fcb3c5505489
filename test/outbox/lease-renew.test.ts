import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { handTimers } from '../helpers/hand-timers.js';

describe('a write slower than the outbox lease', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let server: Server;
  let base: string;
  const open: ServerResponse[] = [];
  let requests: string[];

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    requests = [];
    // A provider that holds every write open until the test answers it.
    server = createServer((req, res) => {
      requests.push(String(req.headers['idempotency-key']));
      open.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const r of open.splice(0)) r.destroy();
    await new Promise((r) => server.close(r));
    db.close();
    dir.remove();
  });

  const send: SendFn = async (job, signal, beforeSend) => {
    await beforeSend();
    const res = await fetch(`${base}/issues`, { method: 'POST', headers: { 'idempotency-key': job.id }, body: '{}', signal });
    return { status: res.status, body: await res.text() };
  };

  for (const replaySafe of [false, true])
    it(`keeps its lease while the request is open (${replaySafe ? 'keyed' : 'unkeyed'}): no resend, no sent_unconfirmed`, async () => {
      const hand = handTimers();
      const events = new JobEvents();
      const leaseMs = 120_000;
      const a = new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, leaseMs, timers: hand.timers, owner: 'a' });
      const b = new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, leaseMs, owner: 'b', ownerIsDead: () => false });
      const alice = { tenant: 'default', user: 'alice' };
      const bob = { tenant: 'default', user: 'bob' };
      const { job } = await outbox.enqueue({ ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create', arguments: {}, replaySafe });
      const { job: other } = await outbox.enqueue({ ...bob, connectionId: 'con_b', integration: 'acme', tool: 'create', arguments: {}, replaySafe });
      const running = a.runOnce();
      await eventually(() => requests.length === 2 || undefined);
      // 150 s at the provider, in steps of a third of the lease, the renewal timer firing at each.
      for (let t = 0; t < 150_000; t += 40_000) {
        clock.advance(40_000);
        hand.fire();
        await eventually(() => hand.pending === 2 || undefined);
        await b.runOnce();
        expect((await outbox.find(job.id))!.state).toBe('sending');
        expect((await outbox.find(other.id))!.state).toBe('sending');
      }
      expect(requests).toHaveLength(2);
      for (const r of open.splice(0)) r.writeHead(201).end('{"id":1}');
      await running;
      expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 1, result: { status: 201 } });
      expect(await outbox.get(other.id, bob)).toMatchObject({ state: 'done', attempts: 1 });
      expect(hand.pending).toBe(0);
    });
});

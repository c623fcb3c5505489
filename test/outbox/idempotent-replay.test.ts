/**
 * Stripe keeps the first answer to an Idempotency-Key for 24 hours, a 500 included, and answers
 * every later request with that key by replaying it, marked `Idempotent-Replayed: true`. The outbox
 * resends a write under the job's own key: a replayed 5xx would come back on every attempt until the
 * job was dead, so it fails at once, saying why. A 5xx the provider did not save is retried as before.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { outcomeOf } from '../../src/outbox/classify.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

describe('a 5xx the provider replays for the idempotency key (Stripe)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let server: Server;
  let base: string;
  /** Stripe's rule: an answer is saved per key once the endpoint started executing; a crash before that is not. */
  const saved = new Map<string, { status: number; body: string }>();
  const executed: string[] = [];
  /** Per connection: whether its first request fails after executing (saved) or before (not saved). */
  const firstFails = new Map<string, 'after' | 'before'>();

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    saved.clear();
    executed.length = 0;
    server = createServer((req, res) => {
      const key = String(req.headers['idempotency-key']);
      const who = String(req.headers.authorization);
      const kept = saved.get(key);
      if (kept) {
        res.writeHead(kept.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' }).end(kept.body);
        return;
      }
      const fails = firstFails.get(who);
      firstFails.delete(who);
      if (fails === 'before') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"type":"api_error","message":"try again"}}');
        return;
      }
      executed.push(who);
      const answer =
        fails === 'after'
          ? { status: 500, body: '{"error":{"type":"api_error","message":"An unknown error occurred"}}' }
          : { status: 200, body: '{"id":"ch_1"}' };
      saved.set(key, answer);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    db.close();
    dir.remove();
  });

  // As the integration's sender does: the job's id as the key, the answer read by outcomeOf.
  const send: SendFn = async (job, signal, beforeSend) => {
    await beforeSend();
    const res = await fetch(`${base}/v1/charges`, {
      method: 'POST',
      headers: { authorization: job.connectionId, 'idempotency-key': job.id },
      body: 'amount=100',
      signal,
    });
    return outcomeOf(res, await res.text(), clock.now());
  };

  it("fails a replayed 500 at its second attempt, naming the replay, while another user's unsaved 500 is retried and done", async () => {
    const w = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send, maxAttempts: 8 });
    firstFails.set('con_alice', 'after');
    firstFails.set('con_bob', 'before');
    const ids: Record<string, string> = {};
    for (const user of ['alice', 'bob']) {
      const { job } = await outbox.enqueue({
        tenant: 'default',
        user,
        connectionId: `con_${user}`,
        integration: 'stripe',
        tool: 'create_charge',
        arguments: {},
      });
      ids[user] = job.id;
    }
    await w.drain();
    for (const u of ['alice', 'bob']) expect(await outbox.find(ids[u]!)).toMatchObject({ state: 'queued', attempts: 1 });
    for (let i = 0; i < 3; i++) {
      const next = Math.min(
        ...(await Promise.all(['alice', 'bob'].map(async (u) => (await outbox.find(ids[u]!))!)))
          .filter((j) => j.state === 'queued')
          .map((j) => j.nextAttemptAt),
      );
      if (!Number.isFinite(next)) break;
      clock.set(next);
      await w.drain();
    }
    const alice = (await outbox.find(ids.alice!))!;
    expect(alice).toMatchObject({ state: 'failed', attempts: 2 });
    expect(alice.lastError).toContain('the provider answered 500');
    expect(alice.lastError).toContain('replayed the answer it saved for this write');
    expect(await outbox.find(ids.bob!)).toMatchObject({ state: 'done', attempts: 2 });
    expect(executed.sort()).toEqual(['con_alice', 'con_bob']);
  });
});

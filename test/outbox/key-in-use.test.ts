/**
 * A resend under the job's idempotency key may reach the provider while the send before it is still
 * being executed there (the hub gave up waiting for it, or its connection dropped). Stripe answers
 * such a request 409 `idempotency_key_in_use` and saves nothing for it: "it is safe to retry these
 * requests" (Stripe docs, "Idempotent requests"), as draft-ietf-httpapi-idempotency-key-header
 * §2.6 has every server answer a retry that overlaps its original. Failed at once, the job told
 * its caller the write was refused while the first send went on to apply it. The provider here is
 * a local server keeping Stripe's rules; the clock is the test's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { outcomeOf } from '../../src/outbox/classify.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

describe('a resend that overlaps the send before it (Stripe 409 idempotency_key_in_use)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let server: Server;
  let base: string;
  const saved = new Map<string, { status: number; body: string }>();
  const executing = new Set<string>();
  /** Ends the request still executing (the first send), which then saves its answer. */
  let finishFirst: () => void = () => {};
  const charges: string[] = [];

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    saved.clear();
    executing.clear();
    charges.length = 0;
    server = createServer((req, res) => {
      const key = req.headers['idempotency-key'];
      const kept = typeof key === 'string' ? saved.get(key) : undefined;
      if (kept) return void res.writeHead(kept.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' }).end(kept.body);
      if (req.url === '/v1/customers') {
        // A plain conflict of the write itself, on its first send.
        return void res
          .writeHead(409, { 'content-type': 'application/json' })
          .end('{"error":{"type":"invalid_request_error","message":"A customer with this email already exists."}}');
      }
      if (typeof key === 'string' && executing.has(key)) {
        return void res
          .writeHead(409, { 'content-type': 'application/json' })
          .end(
            `{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"There is currently another in-progress request using this Stripe-Idempotency-Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later."}}`,
          );
      }
      // The first send: executing until the test ends it (the hub has long stopped waiting by then).
      executing.add(String(key));
      finishFirst = () => {
        charges.push(String(key));
        saved.set(String(key), { status: 200, body: '{"id":"ch_1","object":"charge"}' });
        executing.delete(String(key));
        res.destroy();
      };
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    db.close();
    dir.remove();
  });

  // As the integration's sender does: the job's id as the key, a request that times out is provider_timeout.
  const send: SendFn = async (job, signal, beforeSend) => {
    await beforeSend();
    const timeout = AbortSignal.timeout(300);
    try {
      const res = await fetch(`${base}/v1/${job.tool}`, {
        method: 'POST',
        headers: { 'idempotency-key': job.id, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'amount=100&currency=eur',
        signal: AbortSignal.any([signal, timeout]),
      });
      return outcomeOf(res, await res.text(), clock.now());
    } catch (err) {
      if (timeout.aborted) throw new HubError('provider_timeout', 'Stripe did not answer within 300 ms', { cause: err });
      throw err;
    }
  };

  it('is sent again later under the same key, and ends with the first send’s answer, charged once', async () => {
    const w = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send, backoffMs: () => 2_000 });
    const { job } = await outbox.enqueue({
      tenant: 'default',
      user: 'alice',
      connectionId: 'con_a',
      integration: 'stripe',
      tool: 'charges',
      arguments: {},
      replaySafe: true,
    });

    await w.drain();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'queued', attempts: 1 });

    clock.advance(2_000);
    await w.drain();
    // The resend met the first send still executing: not a refusal of the write.
    const after409 = (await outbox.find(job.id))!;
    expect(after409).toMatchObject({ state: 'queued', attempts: 2 });
    expect(after409.lastError).toContain('409');

    finishFirst();
    clock.advance(2_000);
    await w.drain();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'done', attempts: 3 });
    expect(charges).toEqual([job.id]);
  });

  it('a 409 on a first send is the provider refusing the write: failed at once', async () => {
    const w = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send });
    const { job } = await outbox.enqueue({
      tenant: 'default',
      user: 'alice',
      connectionId: 'con_a',
      integration: 'stripe',
      tool: 'customers',
      arguments: {},
      replaySafe: true,
    });
    await w.drain();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'failed', attempts: 1 });
  });
});

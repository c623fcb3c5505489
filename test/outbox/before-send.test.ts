/**
 * `sending` is committed by the sender's `beforeSend`, after the pacing token and right before the
 * request leaves: what the worker does when that commit is refused or never comes, and how the
 * provider client runs the hook (once per bound fetch, nothing sent when it throws).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { Job } from '../../src/outbox/types.js';
import { JobNotSent, OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { createProviderClient } from '../../src/providers/client.js';
import { noCredentials } from '../../src/providers/credentials.js';
import type { PacedAnswer } from '../../src/providers/pacing.js';
import { openDb, type Db } from '../../src/store/db.js';
import { eventually, tmpDir } from '../helpers/hub.js';

const alice = { tenant: 'default', user: 'alice' };
const input = { ...alice, connectionId: 'con_a', integration: 'acme', tool: 'post_message', arguments: { text: 'hi' } };

describe('the worker and beforeSend', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let outbox: SqliteOutbox;
  let told: Job[];
  let events: JobEvents;
  const clock = manualClock();
  const worker = (send: SendFn, over = {}) => new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, ...over });

  beforeEach(() => {
    dir = tmpDir();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    events = new JobEvents();
    told = [];
    events.subscribe((j) => told.push(j));
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('a job cancelled while it waited for its token is refused by beforeSend: nothing sent, spent or published', async () => {
    const { job } = await outbox.enqueue(input);
    let sent = 0;
    let refusal: unknown;
    const w = worker(async (j, _signal, beforeSend) => {
      // The caller cancels while the job waits in the pacer (claimed, still queued).
      expect(await outbox.cancel(j.id, alice)).toMatchObject({ outcome: 'cancelled' });
      await beforeSend().catch((err: unknown) => {
        refusal = err;
        throw err;
      });
      sent++;
      return { status: 200, body: 'ok' };
    });
    expect(await w.runOnce()).toBe(1);
    expect(refusal).toBeInstanceOf(JobNotSent);
    expect(sent).toBe(0);
    expect(told).toEqual([]);
    expect(await outbox.find(job.id)).toMatchObject({ state: 'cancelled', attempts: 0 });
  });

  it('a refusal the sender wrapped in its own error is still a job not sent, not a failure', async () => {
    const { job } = await outbox.enqueue(input);
    const w = worker(async (j, _signal, beforeSend) => {
      await outbox.cancel(j.id, alice);
      await beforeSend().catch((err: unknown) => {
        throw new Error('the handler gave up', { cause: err });
      });
      return { status: 200, body: 'ok' };
    });
    await w.runOnce();
    expect(told).toEqual([]);
    expect(await outbox.find(job.id)).toMatchObject({ state: 'cancelled', attempts: 0, lastError: null });
  });

  it('a stop while a job waits for its token gives it back queued, no attempt spent', async () => {
    const { job } = await outbox.enqueue(input);
    let waiting = false;
    const w = worker(
      (_j, signal) =>
        new Promise((_resolve, reject) => {
          waiting = true;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { stopGraceMs: 0 },
    );
    w.start();
    await eventually(() => waiting || undefined);
    await w.stop();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: clock.now() });
    expect(told).toEqual([]);
  });

  it('a failure before the request left is retried even for a job that is not replay-safe; the same after it left is sent_unconfirmed', async () => {
    const timeout = new Error('the provider did not answer within 30000 ms');
    const before = (await outbox.enqueue(input)).job;
    await worker(async () => Promise.reject(timeout)).runOnce();
    expect(await outbox.find(before.id)).toMatchObject({ state: 'queued', attempts: 1 });
    await outbox.cancel(before.id, alice);
    const after = (await outbox.enqueue({ ...input, arguments: { text: 'again' } })).job;
    await worker(async (_j, _s, beforeSend) => {
      await beforeSend();
      throw timeout;
    }).runOnce();
    expect(await outbox.find(after.id)).toMatchObject({ state: 'sent_unconfirmed', attempts: 1 });
  });
});

describe('the provider client runs beforeSend', () => {
  it('once per bound fetch, after the token; when it throws, nothing is sent and the slot is freed', async () => {
    const order: string[] = [];
    const observed: Array<PacedAnswer | undefined> = [];
    const client = createProviderClient({
      pacer: {
        acquire: async () => void order.push('token'),
        observe: (_key, answer) => void observed.push(answer),
      },
      fetch: async () => {
        order.push('request');
        return new Response('ok');
      },
    });
    const target = { label: 'Acme', apiBaseUrl: 'http://acme.invalid', credentials: noCredentials, paceKey: 'acme:app' };
    const f = client.bind({ ...target, beforeSend: async () => void order.push('mark') });
    await (await f('/a', { method: 'POST', body: '1' })).text();
    await (await f('/b', { method: 'POST', body: '2' })).text();
    expect(order).toEqual(['token', 'mark', 'request', 'token', 'request']);

    order.length = 0;
    observed.length = 0;
    const refused = client.bind({
      ...target,
      beforeSend: async () => {
        throw new JobNotSent('job_1');
      },
    });
    await expect(refused('/c', { method: 'POST', body: '3' })).rejects.toBeInstanceOf(JobNotSent);
    await expect(refused('/d', { method: 'POST', body: '4' })).rejects.toBeInstanceOf(JobNotSent);
    expect(order).toEqual(['token', 'token']);
    expect(observed).toEqual([undefined, undefined]);
  });
});

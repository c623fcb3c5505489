import { join } from 'node:path';
import { handTimers } from '../helpers/hand-timers.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { Job } from '../../src/outbox/types.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { eventually, tmpDir } from '../helpers/hub.js';

const alice = { tenant: 'default', user: 'alice' };
const input = { ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create_ticket', arguments: { title: 'Hi' } };

describe('OutboxWorker on a SQLite file', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let events: JobEvents;
  let told: Job[];
  let answers: Array<() => Promise<{ status: number; body: string; retryAfterMs?: number }>>;
  let sent: number;
  const send: SendFn = async (_job, _signal, beforeSend) => {
    // As the provider client does: `sending` is committed right before the request leaves.
    await beforeSend();
    sent++;
    const next = answers.shift();
    if (!next) throw new Error('no answer scripted');
    return next();
  };
  const worker = (over = {}) =>
    new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, maxAttempts: 4, backoffMs: (n) => 1_000 * 2 ** (n - 1), ...over });

  beforeEach(() => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    events = new JobEvents();
    told = [];
    events.subscribe((j) => told.push(j));
    answers = [];
    sent = 0;
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('429 with Retry-After waits that long, 503 and a refused connection back off, then 2xx is done with the answer', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    answers = [
      async () => ({ status: 429, body: 'slow down', retryAfterMs: 7_000 }),
      async () => ({ status: 503, body: 'busy' }),
      async () => {
        throw new TypeError('fetch failed', { cause: refused });
      },
      async () => ({ status: 201, body: '{"id":42}' }),
    ];
    const w = worker();
    const { job } = await outbox.enqueue(input);
    const t0 = clock.now();
    const schedule: number[] = [];
    for (let i = 0; i < 3; i++) {
      await w.drain();
      const j = (await outbox.find(job.id))!;
      expect(j.state).toBe('queued');
      schedule.push(j.nextAttemptAt - clock.now());
      clock.set(j.nextAttemptAt);
    }
    // Retry-After (7 s), then the backoff of attempts 2 and 3 (2 s, 4 s).
    expect(schedule).toEqual([7_000, 2_000, 4_000]);
    await w.drain();
    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 4, result: { status: 201, body: '{"id":42}' } });
    expect(told.map((j) => j.state)).toEqual(['done']);
    expect(clock.now() - t0).toBe(13_000);
  });

  it('a 429 with Retry-After: 0 backs off as one without it, rather than sending again at once', async () => {
    answers = [
      async () => ({ status: 429, body: 'slow down', retryAfterMs: 0 }),
      async () => ({ status: 429, body: 'slow down', retryAfterMs: 0 }),
      async () => ({ status: 201, body: '{"id":1}' }),
    ];
    const w = worker();
    const { job } = await outbox.enqueue(input);
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) {
      await w.drain();
      const j = (await outbox.find(job.id))!;
      expect(j.state).toBe('queued');
      waits.push(j.nextAttemptAt - clock.now());
      clock.set(j.nextAttemptAt);
    }
    // The backoff of sends 1 and 2 (1 s, 2 s), not 0 and 0.
    expect(waits).toEqual([1_000, 2_000]);
    await w.drain();
    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 3, paced: 2 });
  });

  it('another 4xx fails at once with the provider message; attempts exhausted is dead', async () => {
    answers = [async () => ({ status: 422, body: '{"message":"title is too long"}' })];
    const a = (await outbox.enqueue(input)).job;
    await worker().drain();
    expect(await outbox.get(a.id, alice)).toMatchObject({
      state: 'failed',
      attempts: 1,
      lastError: expect.stringContaining('422: {"message":"title is too long"}'),
    });
    answers = Array.from({ length: 4 }, () => async () => ({ status: 500, body: 'oops' }));
    const b = (await outbox.enqueue({ ...input, arguments: { title: 'B' } })).job;
    const w = worker();
    for (let i = 0; i < 4; i++) {
      await w.drain();
      clock.advance(60_000);
    }
    expect(await outbox.find(b.id)).toMatchObject({ state: 'dead', attempts: 4, lastError: expect.stringContaining('attempt 4 of 4') });
    expect(sent).toBe(5);
    expect(told.map((j) => [j.id, j.state])).toEqual([
      [a.id, 'failed'],
      [b.id, 'dead'],
    ]);
  });

  it('a timeout of a job without an idempotency key is sent_unconfirmed, not resent; with one it is retried', async () => {
    const timeout = () => Promise.reject(Object.assign(new Error('the provider did not answer within 30000 ms')));
    answers = [timeout, timeout];
    const unsafe = (await outbox.enqueue(input)).job;
    const safe = (await outbox.enqueue({ ...input, arguments: { t: 2 }, replaySafe: true })).job;
    await worker().drain();
    expect((await outbox.find(unsafe.id))?.state).toBe('sent_unconfirmed');
    expect((await outbox.find(safe.id))?.state).toBe('queued');
  });

  it('a gateway 502 or 504 to a job without an idempotency key is sent_unconfirmed, not resent; with one, and a 500 or 503, it is retried', async () => {
    answers = [502, 504, 502, 500, 503].map((status) => async () => ({ status, body: 'upstream' }));
    const unsafe502 = (await outbox.enqueue({ ...input, arguments: { t: 1 } })).job;
    const unsafe504 = (await outbox.enqueue({ ...input, arguments: { t: 2 } })).job;
    const safe502 = (await outbox.enqueue({ ...input, arguments: { t: 3 }, replaySafe: true })).job;
    const unsafe500 = (await outbox.enqueue({ ...input, arguments: { t: 4 } })).job;
    const unsafe503 = (await outbox.enqueue({ ...input, arguments: { t: 5 } })).job;
    await worker({ maxInFlight: 1 }).drain();
    expect(await outbox.find(unsafe502.id)).toMatchObject({
      state: 'sent_unconfirmed',
      lastError: expect.stringContaining('502: upstream (the provider may have applied it'),
    });
    expect((await outbox.find(unsafe504.id))?.state).toBe('sent_unconfirmed');
    expect((await outbox.find(safe502.id))?.state).toBe('queued');
    expect((await outbox.find(unsafe500.id))?.state).toBe('queued');
    expect((await outbox.find(unsafe503.id))?.state).toBe('queued');
    expect(sent).toBe(5);
  });

  it('waitFor resolves when the job is final, and at once for a job already final', async () => {
    answers = [async () => ({ status: 200, body: 'ok' })];
    const { job } = await outbox.enqueue(input);
    const waiting = events.waitFor(job.id, () => outbox.find(job.id), 60_000);
    await worker().drain();
    expect((await waiting)?.state).toBe('done');
    expect((await events.waitFor(job.id, () => outbox.find(job.id), 60_000))?.state).toBe('done');
  });

  it('running, it claims as a send slot frees, not when the whole batch is done, and never holds more than maxInFlight', async () => {
    const finish = new Map<string, () => void>();
    let inFlight = 0;
    let most = 0;
    const slow: SendFn = (job) =>
      new Promise((resolve) => {
        most = Math.max(most, ++inFlight);
        finish.set(String(job.arguments['title']), () => {
          inFlight--;
          resolve({ status: 200, body: 'ok' });
        });
      });
    for (const title of ['A', 'B', 'C']) await outbox.enqueue({ ...input, arguments: { title } });
    // No idle tick in this test's time: every claim below is one the worker made on its own.
    const w = worker({ send: slow, maxInFlight: 2, batchSize: 2, idleMs: 3_600_000 });
    w.start();
    try {
      await eventually(() => finish.size === 2 || undefined);
      expect([...finish.keys()]).toEqual(['A', 'B']);
      finish.get('A')!();
      // B is still in flight: C takes A's slot now (a batch worker would wait for B).
      await eventually(() => finish.has('C') || undefined);
      expect(inFlight).toBe(2);
      finish.get('B')!();
      finish.get('C')!();
    } finally {
      await w.stop();
    }
    expect(most).toBe(2);
    expect(w.claimedOnIdle).toBe(0);
    expect((await outbox.list({ state: 'done' })).length).toBe(3);
  });

  it('a job long without its pacing token gives its slot back, so a paused bucket does not hold every slot', async () => {
    // A bucket paused for an hour (a provider's Retry-After): its jobs wait for a token that does not come.
    const paced: SendFn = async (job, signal, beforeSend) => {
      if (job.integration === 'paused') await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      await beforeSend();
      return { status: 200, body: 'ok' };
    };
    for (const title of ['A', 'B', 'C']) await outbox.enqueue({ ...input, integration: 'paused', arguments: { title } });
    const hand = handTimers();
    const w = worker({ send: paced, maxInFlight: 2, batchSize: 2, idleMs: 3_600_000, timers: hand.timers });
    w.start();
    try {
      // Both slots hold paused jobs (each with its token wait pending); then another integration's write comes.
      await eventually(() => hand.pending >= 2 || undefined);
      const { job } = await outbox.enqueue({ ...input, connectionId: 'con_b', integration: 'other', arguments: { title: 'D' } });
      w.wake();
      expect((await outbox.find(job.id))?.state).toBe('queued');
      // TOKEN_WAIT_MS on the worker's clock: the paused jobs give their slots back, and D takes one.
      hand.fire();
      await eventually(async () => (await outbox.find(job.id))?.state === 'done' || undefined, 5_000);
    } finally {
      await w.stop();
    }
    // The paused ones were never sent: still queued, no attempt spent.
    const paused = await outbox.list({ integration: 'paused' });
    expect(paused.map((j) => [j.state, j.attempts])).toEqual([
      ['queued', 0],
      ['queued', 0],
      ['queued', 0],
    ]);
  });

  it('a worker without a send function claims nothing', async () => {
    await outbox.enqueue(input);
    expect(await worker({ send: undefined }).runOnce()).toBe(0);
    expect((await outbox.list({ state: 'queued' })).length).toBe(1);
  });
});

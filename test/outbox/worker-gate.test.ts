/**
 * What the worker does before and after a send that is not a failure: a breaker that says "not
 * now" releases the claimed job unsent (no attempt spent), and a 429 is pacing, not an attempt,
 * bounded by the larger cap on sends. Real SQLite on a file, a manual clock, a scripted provider.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { classifyResponse } from '../../src/outbox/classify.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { Job } from '../../src/outbox/types.js';
import { OutboxWorker, type OutboxWorkerOptions, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const alice = { tenant: 'default', user: 'alice' };
const input = (title: string) => ({ ...alice, connectionId: 'con_a', integration: 'acme', tool: 'create_ticket', arguments: { title } });
type Answer = { status: number; body: string; retryAfterMs?: number };

describe('the outbox worker: a refusal to send is not an attempt, nor is a 429', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let events: JobEvents;
  let told: Job[];
  let answer: (n: number) => Answer;
  let sent: string[];
  const send: SendFn = async (job, _signal, beforeSend) => {
    await beforeSend();
    sent.push(job.id);
    return answer(sent.length);
  };
  const worker = (over: Partial<OutboxWorkerOptions> = {}) =>
    new OutboxWorker({ queue: outbox, events, clock, log: silentLogger(), send, maxAttempts: 4, backoffMs: () => 1_000, ...over });

  beforeEach(() => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    events = new JobEvents();
    told = [];
    events.subscribe((j) => told.push(j));
    sent = [];
    answer = () => ({ status: 200, body: 'ok' });
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('a job the gate holds back is released unsent, still queued with no attempt spent, and sent once the gate opens', async () => {
    const opensAt = clock.now() + 30_000;
    const asked: string[] = [];
    const w = worker({
      ready: (job) => {
        asked.push(job.id);
        return clock.now() >= opensAt ? { ok: true } : { ok: false, retryAt: opensAt };
      },
    });
    const { job } = await outbox.enqueue(input('A'));
    await w.drain();
    expect(sent).toEqual([]);
    expect(await outbox.find(job.id)).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: opensAt, lastError: null });
    expect(told).toEqual([]);
    // Not due before the gate's time: not even claimed to be asked again.
    clock.set(opensAt - 1);
    expect(await w.drain()).toBe(0);
    expect(asked).toEqual([job.id]);
    clock.set(opensAt);
    await w.drain();
    expect(sent).toEqual([job.id]);
    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 1, result: { status: 200, body: 'ok' } });
    expect(told.map((j) => [j.id, j.state])).toEqual([[job.id, 'done']]);
  });

  it("behind a real breaker: while open nothing is sent; half-open, the batch's first job probes and the others wait for it", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, coolDownMs: 10_000, probeWaitMs: 500, clock });
    breakers.record('acme', { kind: 'status', status: 503 });
    const ready: OutboxWorkerOptions['ready'] = (job) => {
      const a = breakers.admit(job.integration);
      return a.ok ? a : { ok: false, retryAt: a.retryAt };
    };
    const w = worker({
      ready,
      send: async (job, signal, beforeSend) => {
        const r = await send(job, signal, beforeSend);
        breakers.record(job.integration, { kind: 'status', status: r.status });
        return r;
      },
    });
    const jobs = [];
    for (const t of ['A', 'B', 'C']) jobs.push((await outbox.enqueue(input(t))).job);
    await w.drain();
    expect(sent).toEqual([]);
    for (const j of jobs) expect(await outbox.find(j.id)).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: clock.now() + 10_000 });

    clock.advance(10_000);
    await w.runOnce();
    // One probe, the first claimed; it succeeded, so the circuit is closed and the others come back shortly.
    expect(sent).toEqual([jobs[0]!.id]);
    expect(breakers.snapshot()).toEqual([{ integration: 'acme', state: 'closed', failures: 0, retryAt: undefined }]);
    for (const j of jobs.slice(1)) expect(await outbox.find(j.id)).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: clock.now() + 500 });
    clock.advance(500);
    await w.drain();
    expect(sent.sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const j of jobs) expect(await outbox.find(j.id)).toMatchObject({ state: 'done', attempts: 1 });
  });

  it('a failed probe opens the circuit again: the waiting jobs are held another cool-down, having spent nothing', async () => {
    const breakers = new CircuitBreakers({ threshold: 1, coolDownMs: 10_000, probeWaitMs: 500, clock });
    breakers.record('acme', { kind: 'status', status: 503 });
    answer = (n) => (n === 1 ? { status: 503, body: 'still down' } : { status: 200, body: 'ok' });
    const w = worker({
      ready: (job) => {
        const a = breakers.admit(job.integration);
        return a.ok ? a : { ok: false, retryAt: a.retryAt };
      },
      send: async (job, signal, beforeSend) => {
        const r = await send(job, signal, beforeSend);
        breakers.record(job.integration, { kind: 'status', status: r.status });
        return r;
      },
    });
    const a = (await outbox.enqueue(input('A'))).job;
    const b = (await outbox.enqueue(input('B'))).job;
    clock.advance(10_000);
    await w.runOnce();
    expect(sent).toEqual([a.id]);
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'open', retryAt: clock.now() + 10_000 });
    // The probe's 503 is a real attempt; B never left.
    expect(await outbox.find(a.id)).toMatchObject({ state: 'queued', attempts: 1 });
    expect(await outbox.find(b.id)).toMatchObject({ state: 'queued', attempts: 0 });
    clock.advance(500);
    await w.drain();
    expect(sent).toEqual([a.id]);
    expect(await outbox.find(b.id)).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: clock.now() + 9_500 });
  });

  it('429s spend no attempt: six of them and then a 200 is done, past maxAttempts of 4', async () => {
    answer = (n) => (n <= 6 ? { status: 429, body: 'slow down', retryAfterMs: 2_000 } : { status: 201, body: '{"id":1}' });
    const w = worker();
    const { job } = await outbox.enqueue(input('A'));
    for (let i = 0; i < 7; i++) {
      await w.drain();
      clock.advance(2_000);
    }
    expect(sent).toHaveLength(7);
    expect(await outbox.get(job.id, alice)).toMatchObject({ state: 'done', attempts: 7, result: { status: 201 } });
  });

  it('after 429s, failures still get their full maxAttempts: dead at the 4th 503, not at the 4th send', async () => {
    answer = (n) => (n <= 3 ? { status: 429, body: 'slow down' } : { status: 503, body: 'down' });
    const w = worker();
    const { job } = await outbox.enqueue(input('A'));
    for (let i = 0; i < 10; i++) {
      await w.drain();
      clock.advance(60_000);
    }
    expect(sent).toHaveLength(7);
    expect(await outbox.find(job.id)).toMatchObject({
      state: 'dead',
      attempts: 7,
      lastError: expect.stringContaining('503: down (attempt 4 of 4; no more retries)'),
    });
  });

  it('429s are stored with the job: after a restart they still spend no attempt, and a send cut short after them is resent, not dead', async () => {
    answer = (n) => (n <= 3 ? { status: 429, body: 'slow down', retryAfterMs: 1_000 } : { status: 503, body: 'down' });
    const { job } = await outbox.enqueue({ ...input('A'), replaySafe: true });
    const first = worker();
    for (let i = 0; i < 3; i++) {
      await first.drain();
      clock.advance(1_000);
    }
    expect(await outbox.find(job.id)).toMatchObject({ state: 'queued', attempts: 3, paced: 3 });
    // A restart: the store opened again on the same file, a new worker (its memory holds nothing).
    db.close();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    // Its first send is cut short (the process dies mid-send): the lease runs out with the job `sending`.
    const cut = await outbox.claim({ owner: 'gone', limit: 1, leaseMs: 5_000, maxAttempts: 4 });
    expect(await outbox.markSent(cut.jobs[0]!.id, 'gone', 5_000)).toBe(true);
    clock.advance(5_000);
    // Four sends made, three of them 429s: one attempt spent of four, so the new worker's claim
    // recovers it to be sent again (it carries a key), not dead.
    const second = worker();
    for (let i = 0; i < 10; i++) {
      await second.drain();
      clock.advance(60_000);
    }
    // Three 503s more: attempts 2, 3 and 4 of 4 (were the 429s counted, it would be dead at the first).
    expect(sent).toHaveLength(6);
    expect(await outbox.find(job.id)).toMatchObject({
      state: 'dead',
      attempts: 7,
      paced: 3,
      lastError: expect.stringContaining('503: down (attempt 4 of 4; no more retries)'),
    });
    // An operator's retry starts the count again.
    expect(await outbox.retry(job.id)).toEqual({ outcome: 'retried', from: 'dead' });
    expect(await outbox.find(job.id)).toMatchObject({ state: 'queued', attempts: 0, paced: 0 });
  });

  it('a provider answering 429 forever still ends: dead at maxSends', async () => {
    answer = () => ({ status: 429, body: 'slow down', retryAfterMs: 1_000 });
    const w = worker({ maxSends: 10 });
    const { job } = await outbox.enqueue(input('A'));
    for (let i = 0; i < 15; i++) {
      await w.drain();
      clock.advance(1_000);
    }
    expect(sent).toHaveLength(10);
    expect(await outbox.find(job.id)).toMatchObject({
      state: 'dead',
      attempts: 10,
      lastError: expect.stringContaining('429: slow down (send 10 of at most 10, 429s included; no more retries)'),
    });
    expect(told.map((j) => j.state)).toEqual(['dead']);
  });

  it('only a 429 is pacing: 408 and 5xx are retried as failures', () => {
    expect(classifyResponse({ status: 429, body: '' })).toMatchObject({ kind: 'retry', paced: true });
    for (const status of [408, 500, 503]) expect(classifyResponse({ status, body: '' })).not.toHaveProperty('paced');
  });
});

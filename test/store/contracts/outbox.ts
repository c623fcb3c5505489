import { beforeEach, describe, expect, it } from 'vitest';
import type { JobInput, Outbox } from '../../../src/outbox/types.js';
import { hubRejectionOf } from '../../helpers/errors.js';

export interface OutboxHarness {
  outbox: Outbox;
  /** A second instance on the same store, as a second process on one data dir. */
  other: Outbox;
  advance(ms: number): void;
  now(): number;
}

const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };
const claimOpts = (owner: string, over = {}) => ({ owner, limit: 10, leaseMs: 60_000, maxAttempts: 3, ...over });

function job(over: Partial<JobInput> = {}): JobInput {
  return { ...alice, connectionId: 'con_alice', integration: 'acme', tool: 'create_ticket', arguments: { title: 'Hi', n: 1 }, ...over };
}

/** The contract every Outbox keeps, whatever stores it, with a fresh, empty store per test. */
export function outboxContract(name: string, make: () => OutboxHarness | Promise<OutboxHarness>): void {
  describe(`Outbox contract: ${name}`, () => {
    let h: OutboxHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('a repeated caller key with the same arguments (keys in any order) returns the first job, in whatever state', async () => {
      const first = await h.outbox.enqueue(job({ idempotencyKey: 'k1' }));
      expect(first.outcome).toBe('queued');
      expect(first.job).toMatchObject({ state: 'queued', attempts: 0, idempotencyKey: 'k1', keyFromCaller: true, tool: 'create_ticket' });
      const again = await h.other.enqueue(job({ idempotencyKey: 'k1', arguments: { n: 1, title: 'Hi' } }));
      expect(again).toEqual({ outcome: 'existing', job: first.job });
      // Done, it is still the first job (the caller reads its outcome), never a second write.
      const { jobs } = await h.outbox.claim(claimOpts('w1'));
      await h.outbox.markSent(jobs[0]!.id, 'w1', 60_000);
      await h.outbox.complete(jobs[0]!.id, 'w1', { status: 201, body: '{"id":7}' });
      const later = await h.outbox.enqueue(job({ idempotencyKey: 'k1' }));
      expect(later.outcome).toBe('existing');
      expect(later.job).toMatchObject({ id: first.job.id, state: 'done' });
      expect((await h.outbox.get(first.job.id, alice))?.result).toEqual({ status: 201, body: '{"id":7}' });
      expect(await h.outbox.list()).toHaveLength(1);
    });

    it('the same key with other arguments is idempotency_conflict, nothing queued', async () => {
      const first = await h.outbox.enqueue(job({ idempotencyKey: 'k1' }));
      const err = await hubRejectionOf(h.outbox.enqueue(job({ idempotencyKey: 'k1', arguments: { title: 'Other', n: 1 } })));
      expect(err).toMatchObject({ code: 'idempotency_conflict', details: { jobId: first.job.id } });
      expect(await h.outbox.list()).toHaveLength(1);
    });

    it("another user's key (or another tool's) never matches; without a key every call is its own job", async () => {
      const a = await h.outbox.enqueue(job({ idempotencyKey: 'shared' }));
      const b = await h.outbox.enqueue(job({ ...bob, connectionId: 'con_bob', idempotencyKey: 'shared' }));
      const c = await h.outbox.enqueue(job({ tool: 'close_ticket', idempotencyKey: 'shared' }));
      expect([a.outcome, b.outcome, c.outcome]).toEqual(['queued', 'queued', 'queued']);
      const x = await h.outbox.enqueue(job());
      const y = await h.outbox.enqueue(job());
      expect(y.outcome).toBe('queued');
      expect(x.job.id).not.toBe(y.job.id);
      expect(x.job.keyFromCaller).toBe(false);
      expect(x.job.idempotencyKey).not.toBe(y.job.idempotencyKey);
      expect(await h.outbox.list()).toHaveLength(5);
    });

    it('refuses malformed input with invalid_params', async () => {
      expect(await hubRejectionOf(h.outbox.enqueue({ ...job(), tenant: '' }))).toMatchObject({ code: 'invalid_params' });
    });

    it('FIFO per (connection, ordering key): the next is claimable only once the earlier one is finished', async () => {
      const one = await h.outbox.enqueue(job({ orderingKey: 'ticket-1', arguments: { step: 1 } }));
      const two = await h.outbox.enqueue(job({ orderingKey: 'ticket-1', arguments: { step: 2 } }));
      const free = await h.outbox.enqueue(job({ orderingKey: 'ticket-2' }));
      const otherConn = await h.outbox.enqueue(job({ ...bob, connectionId: 'con_bob', orderingKey: 'ticket-1' }));
      const first = await h.outbox.claim(claimOpts('w1'));
      expect(first.jobs.map((j) => j.id).sort()).toEqual([one.job.id, free.job.id, otherConn.job.id].sort());
      await h.outbox.markSent(one.job.id, 'w1', 60_000);
      // A retry of the first keeps the second waiting.
      await h.outbox.fail(one.job.id, 'w1', { error: '503', retryAt: h.now() + 1_000 });
      h.advance(500);
      expect((await h.outbox.claim(claimOpts('w2'))).jobs).toEqual([]);
      h.advance(600);
      expect((await h.outbox.claim(claimOpts('w2'))).jobs.map((j) => j.id)).toEqual([one.job.id]);
      await h.outbox.markSent(one.job.id, 'w2', 60_000);
      await h.outbox.complete(one.job.id, 'w2', { status: 200, body: '' });
      expect((await h.outbox.claim(claimOpts('w2'))).jobs.map((j) => j.id)).toEqual([two.job.id]);
    });

    it('leases: a claimed job is not claimed again until its lease ends; transitions are guarded on the owner', async () => {
      const { job: j } = await h.outbox.enqueue(job());
      expect((await h.outbox.claim(claimOpts('w1'))).jobs).toHaveLength(1);
      expect((await h.other.claim(claimOpts('w2'))).jobs).toEqual([]);
      expect(await h.other.markSent(j.id, 'w2', 60_000)).toBe(false);
      h.advance(60_001);
      // Unsent when its lease ended: simply claimable again, no attempt spent.
      const again = await h.other.claim(claimOpts('w2'));
      expect(again.jobs.map((x) => [x.id, x.attempts])).toEqual([[j.id, 0]]);
      expect(await h.outbox.markSent(j.id, 'w1', 60_000)).toBe(false);
      expect(await h.other.markSent(j.id, 'w2', 60_000)).toBe(true);
      expect(await h.outbox.complete(j.id, 'w1', { status: 200, body: '' })).toBe(false);
      expect(await h.outbox.fail(j.id, 'w1', { error: 'x', retryAt: 'never' })).toBe(false);
      expect(await h.other.complete(j.id, 'w2', { status: 200, body: 'ok' })).toBe(true);
      expect(await h.outbox.find(j.id)).toMatchObject({ state: 'done', attempts: 1 });
    });

    it('a job abandoned mid-send: resent when replay-safe, sent_unconfirmed otherwise; a dead owner frees it before its lease ends', async () => {
      const safe = (await h.outbox.enqueue(job({ replaySafe: true }))).job;
      const unsafe = (await h.outbox.enqueue(job())).job;
      await h.outbox.claim(claimOpts('ghost'));
      for (const id of [safe.id, unsafe.id]) expect(await h.outbox.markSent(id, 'ghost', 60_000)).toBe(true);
      // Lease still running and the owner alive: nothing to recover.
      expect(await h.other.claim(claimOpts('w2', { ownerIsDead: () => false }))).toEqual({ jobs: [], settled: [] });
      const r = await h.other.claim(claimOpts('w2', { ownerIsDead: (o: string) => o === 'ghost' }));
      expect(r.settled.map((j) => [j.id, j.state])).toEqual([[unsafe.id, 'sent_unconfirmed']]);
      expect(r.jobs.map((j) => [j.id, j.attempts])).toEqual([[safe.id, 1]]);
      expect(await h.outbox.find(unsafe.id)).toMatchObject({ state: 'sent_unconfirmed', lastError: expect.stringContaining('may or may not') });
    });

    it('a replay-safe job abandoned on its last attempt is dead', async () => {
      const { job: j } = await h.outbox.enqueue(job({ replaySafe: true }));
      for (let i = 0; i < 3; i++) {
        h.advance(60_001);
        const { jobs } = await h.outbox.claim(claimOpts(`w${i}`));
        expect(jobs.map((x) => x.id)).toEqual([j.id]);
        await h.outbox.markSent(j.id, `w${i}`, 60_000);
      }
      h.advance(60_001);
      const r = await h.outbox.claim(claimOpts('w9'));
      expect(r.settled.map((x) => [x.id, x.state])).toEqual([[j.id, 'dead']]);
    });

    it('cancel only while queued and only by its owner; get only for its owner', async () => {
      const { job: j } = await h.outbox.enqueue(job());
      expect(await h.outbox.get(j.id, bob)).toBeUndefined();
      expect((await h.outbox.get(j.id, alice))?.arguments).toEqual({ title: 'Hi', n: 1 });
      expect(await h.outbox.cancel(j.id, bob)).toEqual({ outcome: 'not_found' });
      const sent = (await h.outbox.enqueue(job())).job;
      await h.outbox.claim(claimOpts('w1'));
      await h.outbox.markSent(sent.id, 'w1', 60_000);
      expect(await h.outbox.cancel(sent.id, alice)).toEqual({ outcome: 'busy', state: 'sending' });
      // Claimed but unsent is still queued: cancelled, and the worker's markSent then refuses it.
      const c = await h.outbox.cancel(j.id, alice);
      expect(c).toMatchObject({ outcome: 'cancelled', job: { id: j.id, state: 'cancelled' } });
      expect(await h.outbox.markSent(j.id, 'w1', 60_000)).toBe(false);
    });

    it('retry: failed, dead and sent_unconfirmed → queued with attempts reset; purge removes one final state before a time', async () => {
      const { job: j } = await h.outbox.enqueue(job());
      expect(await h.outbox.retry(j.id)).toEqual({ outcome: 'busy', state: 'queued' });
      await h.outbox.claim(claimOpts('w1'));
      await h.outbox.markSent(j.id, 'w1', 60_000);
      expect(await h.outbox.fail(j.id, 'w1', { error: '8 attempts', retryAt: 'never', exhausted: true })).toBe('dead');
      expect(await h.outbox.list({ state: 'dead' })).toHaveLength(1);
      expect(await h.other.retry(j.id)).toEqual({ outcome: 'retried', from: 'dead' });
      expect(await h.outbox.find(j.id)).toMatchObject({ state: 'queued', attempts: 0, lastError: null });
      expect(await h.outbox.retry('job_nope')).toEqual({ outcome: 'not_found' });
      await h.outbox.claim(claimOpts('w1'));
      await h.outbox.markSent(j.id, 'w1', 60_000);
      await h.outbox.fail(j.id, 'w1', { error: '422', retryAt: 'never', result: { status: 422, body: 'bad' } });
      expect(await h.outbox.purge('failed', h.now())).toBe(0);
      h.advance(1);
      expect(await h.outbox.purge('dead', h.now())).toBe(0);
      expect(await h.outbox.purge('failed', h.now())).toBe(1);
      expect(await h.outbox.list()).toEqual([]);
    });

    it("a job failed on a hub error keeps that error's code, for its caller; a retry clears it", async () => {
      const { job: j } = await h.outbox.enqueue(job());
      await h.outbox.claim(claimOpts('w1'));
      await h.outbox.markSent(j.id, 'w1', 60_000);
      expect(await h.outbox.fail(j.id, 'w1', { error: 'redirected outside the API base', retryAt: 'never', code: 'provider_redirect_refused' })).toBe('failed');
      expect(await h.outbox.find(j.id)).toMatchObject({ state: 'failed', lastErrorCode: 'provider_redirect_refused' });
      expect(await h.other.retry(j.id)).toEqual({ outcome: 'retried', from: 'failed' });
      expect(await h.outbox.find(j.id)).toMatchObject({ state: 'queued', lastError: null, lastErrorCode: null });
    });

    it('list filters by state and integration', async () => {
      await h.outbox.enqueue(job());
      await h.outbox.enqueue(job({ integration: 'other' }));
      expect((await h.outbox.list({ integration: 'other' })).map((j) => j.integration)).toEqual(['other']);
      expect(await h.outbox.list({ state: 'done' })).toEqual([]);
    });
  });
}

/**
 * The inbox and outbox contracts (test/store/contracts) against PostgreSQL, and what only several
 * replicas can break: two pools on one database racing on what must happen once.
 */
import { beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PgOutbox } from '../../src/outbox/pg.js';
import type { JobInput } from '../../src/outbox/types.js';
import type { PgStore } from '../../src/store/pg/pool.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { PgDataKeys } from '../../src/vault/pg-data-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { PgInbox } from '../../src/webhooks/inbox/pg.js';
import { PgEventReads } from '../../src/webhooks/inbox/pg-reads.js';
import type { DeliveryInput } from '../../src/webhooks/inbox/types.js';
import { hubRejectionOf } from '../helpers/errors.js';
import { describePg, type MigratedDatabase, migratedWithReplica } from '../helpers/postgres.js';
import { inboxContract } from '../store/contracts/inbox.js';
import { outboxContract } from '../store/contracts/outbox.js';

let pg: MigratedDatabase;
/** A second pool on the same database: a second replica. */
let replica: PgStore;

describePg('PostgreSQL repositories: inbox and outbox', () => {
  migratedWithReplica((p, r) => {
    pg = p;
    replica = r;
  });

  /** An emptied database and a clock of the test's own. */
  async function fresh() {
    await pg.reset();
    return manualClock();
  }

  /** One vault per replica, each reading the data keys from PostgreSQL through its own pool. */
  function vaults(clock: ReturnType<typeof manualClock>): [Vault, Vault] {
    const ring = ephemeralRing();
    return [new Vault({ keys: new PgDataKeys(pg.store), ring, clock }), new Vault({ keys: new PgDataKeys(replica), ring, clock })];
  }

  inboxContract('PostgreSQL', async () => {
    const clock = await fresh();
    return {
      inbox: new PgInbox(pg.store, clock),
      other: new PgInbox(replica, clock),
      advance: (ms) => clock.advance(ms),
      now: () => clock.now(),
    };
  });

  outboxContract('PostgreSQL', async () => {
    const clock = await fresh();
    const [va, vb] = vaults(clock);
    return {
      outbox: new PgOutbox(pg.store, clock, va),
      other: new PgOutbox(replica, clock, vb),
      advance: (ms) => clock.advance(ms),
      now: () => clock.now(),
    };
  });

  describePg('inbox across replicas', () => {
    let clock: ReturnType<typeof manualClock>;
    let a: PgInbox;
    let b: PgInbox;
    beforeEach(async () => {
      clock = await fresh();
      a = new PgInbox(pg.store, clock);
      b = new PgInbox(replica, clock);
    });

    const routes = [
      { id: 'con_alice', tenant: 'acme-corp', user: 'alice' },
      { id: 'con_bob', tenant: 'globex', user: 'bob' },
    ];
    const hook = (n: number, over: Partial<DeliveryInput> = {}): DeliveryInput => ({
      integration: 'acme',
      deliveryId: `d-${n}`,
      type: 'ticket.updated',
      connection: routes[n % 2]!,
      payload: `{"n":${n}}`,
      ...over,
    });

    it('20 deliveries each sent 10 times, spread over two replicas at once: 20 events, each redelivery naming its first', async () => {
      const calls = Array.from({ length: 200 }, (_, i) => ({ n: i % 20, on: i % 3 === 0 ? a : b }));
      const results = await Promise.all(calls.map(({ n, on }) => on.accept(hook(n)).then((r) => ({ n, ...r }))));
      for (let n = 0; n < 20; n++) {
        const mine = results.filter((r) => r.n === n);
        expect(mine.filter((r) => r.outcome === 'stored')).toHaveLength(1);
        expect(new Set(mine.map((r) => r.eventId)).size).toBe(1);
      }
      const events = await a.list({ limit: 1000 });
      expect(events).toHaveLength(20);
      // Each tenant's user sees their own ten.
      expect(await a.list({ tenant: 'acme-corp', user: 'alice', limit: 1000 })).toHaveLength(10);
      expect(await b.list({ tenant: 'globex', user: 'bob', limit: 1000 })).toHaveLength(10);
    });

    it('one change by webhook on one replica and by poll on the other, 10 times at once: one event', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          i % 2 === 0
            ? a.accept(hook(i, { providerEventId: 'ev-1', connection: routes[0]! }))
            : b.accept({ integration: 'acme', source: 'poll', providerEventId: 'ev-1', type: 't', connection: routes[0]!, payload: '{}' }),
        ),
      );
      expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
      expect(new Set(results.map((r) => r.eventId)).size).toBe(1);
      expect(await a.list()).toHaveLength(1);
    });

    it('20 concurrent claims from two replicas over 10 events: each event leased once, to one owner', async () => {
      const stored = await Promise.all(Array.from({ length: 10 }, (_, i) => a.accept(hook(i))));
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).claim({ owner: `w${i}`, limit: 3, leaseMs: 60_000, maxAttempts: 3 }).then((events) => ({ owner: `w${i}`, events })),
        ),
      );
      const leased = claims.flatMap((c) => c.events.map((e) => e.id));
      expect(leased.sort()).toEqual(stored.map((s) => s.eventId).sort());
      // Only the owner a claim named may complete what it returned.
      for (const e of leased) expect(await a.complete(e, 'intruder')).toBe(false);
      const done = await Promise.all(
        claims.map((c) =>
          b.completeAll(
            c.events.map((e) => e.id),
            c.owner,
          ),
        ),
      );
      expect(done.flat().sort()).toEqual(leased.sort());
      expect((await a.list({ state: 'done' })).map((e) => e.attempts)).toEqual(Array(10).fill(1));
    });

    it('expired leases reclaimed by 10 concurrent claims on two replicas: each event claimed again once', async () => {
      await Promise.all(Array.from({ length: 6 }, (_, i) => a.accept(hook(i))));
      expect(await a.claim({ owner: 'gone', limit: 10, leaseMs: 1_000, maxAttempts: 3 })).toHaveLength(6);
      clock.advance(1_000);
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim({ owner: `w${i}`, limit: 2, leaseMs: 60_000, maxAttempts: 3 })),
      );
      const again = claims.flat();
      expect(again).toHaveLength(6);
      expect(new Set(again.map((e) => e.id)).size).toBe(6);
      expect(again.every((e) => e.attempts === 2)).toBe(true);
    });

    it('two replicas storing a page from the same cursor at once: one commits, the other stores nothing', async () => {
      const page = (ids: string[]) =>
        ids.map((id) => ({ integration: 'acme', source: 'poll' as const, providerEventId: id, type: 't', connection: routes[0]!, payload: '{}' }));
      const cursor = { integration: 'acme', connectionId: 'con_alice', feed: 'events', from: null, to: 'c1' };
      const [x, y] = await Promise.all([a.acceptPolled(page(['e1', 'e2']), cursor), b.acceptPolled(page(['e3', 'e4']), { ...cursor, to: 'c1b' })]);
      expect([x.outcome, y.outcome].sort()).toEqual(['committed', 'conflict']);
      const won = x.outcome === 'committed' ? ['e1', 'e2'] : ['e3', 'e4'];
      expect((await a.list()).map((e) => e.providerEventId).sort()).toEqual(won);
      expect(await b.cursorOf('con_alice', 'events')).toBe(x.outcome === 'committed' ? 'c1' : 'c1b');
    });

    it('doneAfter reads what either replica finished, in order, and goes on from its cursor', async () => {
      const [one, two] = await Promise.all([a.accept(hook(1)), a.accept(hook(2))]);
      await a.claim({ owner: 'w', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
      clock.advance(5);
      expect(await b.complete(two.eventId, 'w')).toBe(true);
      clock.advance(5);
      expect(await a.complete(one.eventId, 'w')).toBe(true);
      const first = await b.doneAfter({ at: 0, seq: 0 }, 1);
      expect(first.events.map((e) => e.id)).toEqual([two.eventId]);
      const next = await a.doneAfter(first.next, 10);
      expect(next.events.map((e) => e.id)).toEqual([one.eventId]);
      expect(await a.doneAfter(next.next, 10)).toEqual({ events: [], next: next.next });
    });
    it('doneAfter waits for a completion another replica is still committing, so its cursor never passes it', async () => {
      const [one, two] = await Promise.all([a.accept(hook(1)), a.accept(hook(2))]);
      await a.claim({ owner: 'w', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
      const slow = await replica.pool.connect();
      try {
        // Replica B stamps its completion first and is still committing when A's later one lands.
        await slow.query('BEGIN');
        await slow.query(`UPDATE inbox_events SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $2 WHERE id = $1`, [
          one.eventId,
          clock.now() + 1,
        ]);
        clock.advance(2);
        expect(await a.complete(two.eventId, 'w')).toBe(true);
        const reading = a.doneAfter({ at: 0, seq: 0 }, 10);
        let answered = false;
        void reading.finally(() => {
          answered = true;
        });
        const waiting = `SELECT 1 FROM pg_locks WHERE relation = 'inbox_events'::regclass AND NOT granted`;
        while (!answered && (await pg.store.query(waiting)).length === 0);
        await slow.query('COMMIT');
        expect((await reading).events.map((e) => e.id)).toEqual([one.eventId, two.eventId]);
      } finally {
        slow.release();
      }
    });
  });

  describePg('event reads (recent_events) across replicas', () => {
    let clock: ReturnType<typeof manualClock>;
    let inbox: PgInbox;
    let reads: PgEventReads;
    beforeEach(async () => {
      clock = await fresh();
      inbox = new PgInbox(pg.store, clock);
      reads = new PgEventReads(replica);
    });
    const alice = { id: 'con_alice', tenant: 'acme-corp', user: 'alice' };
    const mine = { tenant: 'acme-corp', user: 'alice', integration: 'acme', limit: 2 };
    const hook = (n: number, over: Partial<DeliveryInput> = {}): DeliveryInput => ({
      integration: 'acme',
      deliveryId: `r-${n}`,
      type: 'ticket.updated',
      connection: alice,
      payload: `{"n":${n}}`,
      ...over,
    });

    it("the latest page oldest first, then what arrived since; never another user's, another tenant's or an unroutable event", async () => {
      expect(await reads.recent(mine)).toEqual({ events: [], nextCursor: 'e0', cursors: [] });
      for (const n of [1, 2, 3]) await inbox.accept(hook(n));
      await inbox.accept(hook(4, { connection: { id: 'con_bob', tenant: 'acme-corp', user: 'bob' } }));
      await inbox.accept(hook(5, { connection: { id: 'con_eve', tenant: 'globex', user: 'alice' } }));
      await inbox.accept(hook(6, { connection: undefined }));
      const latest = await reads.recent(mine);
      expect(latest.events.map((e) => e.payload)).toEqual([{ n: 2 }, { n: 3 }]);
      expect(await reads.recent({ ...mine, after: latest.nextCursor })).toEqual({ events: [], nextCursor: latest.nextCursor, cursors: [] });
      await inbox.accept(hook(7, { type: 'ticket.closed' }));
      const since = await reads.recent({ ...mine, after: latest.nextCursor });
      expect(since.events.map((e) => [e.type, e.payload])).toEqual([['ticket.closed', { n: 7 }]]);
      expect((await reads.recent({ ...mine, type: 'ticket.closed', limit: 10 })).events).toHaveLength(1);
      expect(await hubRejectionOf(reads.recent({ ...mine, after: 'not-a-cursor' }))).toMatchObject({ code: 'invalid_params' });
    });

    it('an event another replica is still committing is not passed by a cursor: the read waits for it', async () => {
      const first = await reads.recent(mine);
      // A replica's accept holding seq 1 uncommitted, while another commits seq 2.
      const slow = await replica.pool.connect();
      try {
        await slow.query('BEGIN');
        await slow.query(
          `INSERT INTO inbox_events (id, tenant_id, user_id, connection_id, integration, endpoint, type, source, received_at, payload, state,
             next_attempt_at, updated_at) VALUES ('evt_slow', 'acme-corp', 'alice', 'con_alice', 'acme', '', 'ticket.updated', 'webhook', 0,
             '{"n":0}', 'pending', 0, 0)`,
        );
        await inbox.accept(hook(1));
        const reading = reads.recent({ ...mine, after: first.nextCursor, limit: 10 });
        let answered = false;
        void reading.finally(() => {
          answered = true;
        });
        // Commit once the read waits behind the open write (or has answered without waiting: the bug).
        const waiting = `SELECT 1 FROM pg_locks WHERE relation = 'inbox_events'::regclass AND NOT granted`;
        while (!answered && (await pg.store.query(waiting)).length === 0);
        await slow.query('COMMIT');
        expect((await reading).events.map((e) => e.payload)).toEqual([{ n: 0 }, { n: 1 }]);
      } finally {
        slow.release();
      }
    });
  });

  describePg('outbox across replicas', () => {
    let clock: ReturnType<typeof manualClock>;
    let a: PgOutbox;
    let b: PgOutbox;
    beforeEach(async () => {
      clock = await fresh();
      const [va, vb] = vaults(clock);
      a = new PgOutbox(pg.store, clock, va);
      b = new PgOutbox(replica, clock, vb);
    });

    const alice = { tenant: 'acme-corp', user: 'alice', connectionId: 'con_alice' };
    const bob = { tenant: 'globex', user: 'bob', connectionId: 'con_bob' };
    const job = (n: number, over: Partial<JobInput> = {}): JobInput => ({
      ...(n % 2 === 0 ? alice : bob),
      integration: 'acme',
      tool: 'create_ticket',
      arguments: { n },
      ...over,
    });
    const claimOpts = (owner: string, limit = 3) => ({ owner, limit, leaseMs: 60_000, maxAttempts: 3 });

    it('one idempotency key sent 10 times at once by each of two users, over two replicas: one job per user, every answer naming it', async () => {
      const calls = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? a : b).enqueue(job(i, { idempotencyKey: 'same-key', arguments: { title: 'Hi' } })));
      const results = await Promise.all(calls);
      for (const who of [alice, bob]) {
        const mine = results.filter((r) => r.job.user === who.user);
        expect(mine.filter((r) => r.outcome === 'queued')).toHaveLength(1);
        expect(new Set(mine.map((r) => r.job.id)).size).toBe(1);
        expect(await a.list({ tenant: who.tenant, user: who.user })).toHaveLength(1);
      }
    });

    it('20 concurrent claims from two replicas over 10 jobs of two tenants: each job leased once, and sent once', async () => {
      const queued = await Promise.all(Array.from({ length: 10 }, (_, i) => a.enqueue(job(i))));
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).claim(claimOpts(`w${i}`)).then((r) => ({ owner: `w${i}`, on: i % 2 === 0 ? b : a, jobs: r.jobs })),
        ),
      );
      const leased = claims.flatMap((c) => c.jobs.map((j) => j.id));
      expect(leased.sort()).toEqual(queued.map((q) => q.job.id).sort());
      // Each claim's owner, and only it, moves its jobs on, whichever replica it asks.
      const sent = await Promise.all(claims.flatMap((c) => c.jobs.map((j) => c.on.markSent(j.id, c.owner, 60_000))));
      expect(sent.every(Boolean)).toBe(true);
      expect(await a.markSent(leased[0]!, 'intruder', 60_000)).toBe(false);
      expect((await b.list({ state: 'sending' })).map((j) => j.attempts)).toEqual(Array(10).fill(1));
    });

    it('one ordering key: concurrent claims on two replicas lease only the first job until it is finished', async () => {
      const ordered = [];
      for (let step = 0; step < 4; step++) ordered.push((await a.enqueue(job(0, { orderingKey: 'ticket-1', arguments: { step } }))).job.id);
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claim(claimOpts(`w${i}`))));
      expect(claims.flatMap((c) => c.jobs.map((j) => j.id))).toEqual([ordered[0]]);
      const owner = `w${claims.findIndex((c) => c.jobs.length > 0)}`;
      await a.markSent(ordered[0]!, owner, 60_000);
      await b.complete(ordered[0]!, owner, { status: 200, body: '' });
      const next = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claim(claimOpts(`v${i}`))));
      expect(next.flatMap((c) => c.jobs.map((j) => j.id))).toEqual([ordered[1]]);
    });

    it('jobs abandoned mid-send, recovered by 10 concurrent claims on two replicas: each settled or resent once', async () => {
      const unsafe = await Promise.all([0, 1, 2].map((n) => a.enqueue(job(n))));
      const safe = await Promise.all([3, 4].map((n) => a.enqueue(job(n, { replaySafe: true }))));
      const { jobs } = await a.claim(claimOpts('ghost', 10));
      for (const j of jobs) expect(await a.markSent(j.id, 'ghost', 1_000)).toBe(true);
      clock.advance(1_000);
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim(claimOpts(`w${i}`, 10))));
      const settled = claims.flatMap((c) => c.settled);
      expect(settled.map((j) => j.id).sort()).toEqual(unsafe.map((u) => u.job.id).sort());
      expect(settled.every((j) => j.state === 'sent_unconfirmed')).toBe(true);
      const resent = claims.flatMap((c) => c.jobs);
      expect(resent.map((j) => j.id).sort()).toEqual(safe.map((s) => s.job.id).sort());
      expect(resent.every((j) => j.attempts === 1 && j.state === 'queued')).toBe(true);
    });

    it('a sensitive job is sealed in the row, opened by the replica that claims it, and its answer sealed for its owner', async () => {
      const { job: j } = await a.enqueue(job(0, { sensitive: true, arguments: { card: '4242-secret' } }));
      const raw = async () => pg.store.one('SELECT args, result FROM outbox_jobs WHERE id = $1', [j.id], (r) => `${r.args} ${r.result}`);
      expect(await raw()).not.toContain('4242-secret');
      const { jobs } = await b.claim(claimOpts('w'));
      expect(jobs.map((x) => x.arguments)).toEqual([{ card: '4242-secret' }]);
      await b.markSent(j.id, 'w', 60_000);
      expect(await b.complete(j.id, 'w', { status: 201, body: '{"last4":"4242-secret"}' })).toBe(true);
      expect(await raw()).not.toContain('4242-secret');
      expect((await a.get(j.id, alice))?.result).toEqual({ status: 201, body: '{"last4":"4242-secret"}' });
      expect(await a.get(j.id, bob)).toBeUndefined();
    });
  });
});

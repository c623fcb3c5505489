import { join } from 'node:path';
import { AbortError } from 'p-retry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { backoffMs } from '../../src/webhooks/inbox/backoff.js';
import { EventFeed, HandlerRegistry } from '../../src/webhooks/inbox/handlers.js';
import { DAY_MS, PurgeJob } from '../../src/webhooks/inbox/purge.js';
import { SqliteInbox } from '../../src/webhooks/inbox/sqlite.js';
import type { EventEnvelope, InboxEvent } from '../../src/webhooks/inbox/types.js';
import { InboxWorker } from '../../src/webhooks/inbox/worker.js';
import { tmpDir } from '../helpers/hub.js';

const alice = { id: 'con_alice', tenant: 'default', user: 'alice' };
const bob = { id: 'con_bob', tenant: 'default', user: 'bob' };

/** One process's view of the store: its own connection to the file, inbox, handlers, feed and worker. */
function node(file: string, clock: ReturnType<typeof manualClock>, name: string, opts: { maxAttempts?: number; onStored?: () => void } = {}) {
  const db = openDb({ file, clock });
  const inbox = new SqliteInbox(db, clock, opts.onStored ? { onStored: opts.onStored } : {});
  const handlers = new HandlerRegistry();
  const feed = new EventFeed();
  const published: EventEnvelope[] = [];
  feed.subscribe((e) => published.push(e));
  const worker = new InboxWorker({
    queue: inbox,
    handlers,
    feed,
    clock,
    log: silentLogger(),
    owner: name,
    leaseMs: 60_000,
    maxAttempts: opts.maxAttempts ?? 8,
  });
  return { db, inbox, handlers, feed, published, worker };
}

describe('the inbox worker on a SQLite file (injected clock)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let file: string;
  let clock: ReturnType<typeof manualClock>;
  const dbs: Db[] = [];
  const open = (name: string, opts?: Parameters<typeof node>[3]) => {
    const n = node(file, clock, name, opts);
    dbs.push(n.db);
    return n;
  };
  beforeEach(() => {
    dir = tmpDir();
    file = join(dir.path, 'switchboard.db');
    clock = manualClock();
  });
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
    dir.remove();
  });

  it('100 events, each accepted 10 times at once by two processes → 100 rows, each handled exactly once', async () => {
    const a = open('a');
    const b = open('b');
    const handled = new Map<string, number>();
    for (const n of [a, b])
      n.handlers.register('acme', async (e) => {
        const id = JSON.parse(e.payload.toString()).id as string;
        handled.set(id, (handled.get(id) ?? 0) + 1);
      });
    const accepts = [];
    for (let copy = 0; copy < 10; copy++)
      for (let i = 0; i < 100; i++) {
        const via = copy % 2 === 0 ? a : b;
        accepts.push(via.inbox.accept({ integration: 'acme', deliveryId: `d-${i}`, type: 't', connection: alice, payload: JSON.stringify({ id: `e-${i}` }) }));
      }
    const results = await Promise.all(accepts);
    expect(results.filter((r) => r.outcome === 'stored').length).toBe(100);
    expect(results.filter((r) => r.outcome === 'duplicate').length).toBe(900);
    expect(a.db.prepare('SELECT count(*) FROM inbox_events').pluck().get()).toBe(100);
    // Both workers run side by side until nothing is due.
    await Promise.all([a.worker.drain(), b.worker.drain()]);
    expect(handled.size).toBe(100);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(a.published.length + b.published.length).toBe(100);
    expect((await a.inbox.list({ state: 'done', limit: 1000 })).length).toBe(100);
  });

  it('concurrent accepts within one tick are one commit; accepts in later ticks are their own', async () => {
    let commits = 0;
    const n = open('a', { onStored: () => commits++ });
    await Promise.all(Array.from({ length: 50 }, (_, i) => n.inbox.accept({ integration: 'acme', deliveryId: `d-${i}`, type: 't', payload: '{}' })));
    expect(commits).toBe(1);
    for (let i = 50; i < 53; i++) await n.inbox.accept({ integration: 'acme', deliveryId: `d-${i}`, type: 't', payload: '{}' });
    expect(commits).toBe(4);
  });

  it('a worker that dies holding a lease: another process on the file claims the event once the lease expires', async () => {
    const a = open('a');
    const b = open('b');
    let release: () => void = () => {};
    a.handlers.register('acme', () => new Promise<void>((r) => (release = r))); // hangs: the process is as good as dead
    const ran: string[] = [];
    b.handlers.register('acme', async (e) => void ran.push(e.id));
    const { eventId } = await a.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 't', connection: alice, payload: '{}' });
    const stuck = a.worker.runOnce();
    await new Promise((r) => setImmediate(r));
    expect(await a.inbox.get(eventId)).toMatchObject({ state: 'processing', attempts: 1 });
    expect(await b.worker.runOnce()).toBe(0);
    clock.advance(60_000);
    expect(await b.worker.runOnce()).toBe(1);
    expect(ran).toEqual([eventId]);
    expect(await b.inbox.get(eventId)).toMatchObject({ state: 'done', attempts: 2 });
    // The first worker finishes late: its outcome is refused, and subscribers heard of the event once.
    release();
    expect(await stuck).toBe(1);
    expect(await a.inbox.get(eventId)).toMatchObject({ state: 'done', attempts: 2 });
    expect(b.published.map((e) => e.id)).toEqual([eventId]);
    expect(a.published).toEqual([]);
  });

  it('retries with backoff on the injected clock, dead after maxAttempts, replayed, then done', async () => {
    const n = open('a', { maxAttempts: 3 });
    let healthy = false;
    n.handlers.register('acme', async () => {
      if (!healthy) throw new Error('provider answered 503');
    });
    const { eventId } = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 't', connection: alice, payload: '{"x":1}' });
    const t0 = clock.now();
    expect(await n.worker.runOnce()).toBe(1);
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'provider answered 503', nextAttemptAt: t0 + backoffMs(1) });
    clock.advance(backoffMs(1) - 1);
    expect(await n.worker.runOnce()).toBe(0);
    clock.advance(1);
    expect(await n.worker.runOnce()).toBe(1);
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'failed', attempts: 2, nextAttemptAt: clock.now() + backoffMs(2) });
    expect([1, 2, 3, 7, 8, 20].map((n) => backoffMs(n))).toEqual([2_000, 6_000, 18_000, 1_458_000, 3_600_000, 3_600_000]);
    clock.advance(backoffMs(2));
    expect(await n.worker.runOnce()).toBe(1);
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'dead', attempts: 3, lastError: 'provider answered 503' });
    clock.advance(DAY_MS);
    expect(await n.worker.runOnce()).toBe(0);
    expect(n.published).toEqual([]);

    healthy = true;
    expect(await n.inbox.replay(eventId)).toEqual({ outcome: 'replayed', from: 'dead' });
    expect(await n.worker.runOnce()).toBe(1);
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'done', attempts: 1, lastError: null });
    expect(n.published).toEqual([
      { id: eventId, type: 't', integration: 'acme', connectionId: 'con_alice', source: 'webhook', receivedAt: t0, payload: { x: 1 } },
    ]);
  });

  it("p-retry's AbortError is permanent: dead at the first attempt", async () => {
    const n = open('a');
    n.handlers.register('acme', async () => {
      throw new AbortError('the payload names no ticket');
    });
    const { eventId } = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 't', connection: alice, payload: '{}' });
    await n.worker.drain();
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'dead', attempts: 1, lastError: 'the payload names no ticket' });
  });

  it('unroutable events are kept and listed (dead, with the reason); two users’ events side by side reach subscribers with their connection', async () => {
    const n = open('a');
    const a = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-a', type: 't', connection: alice, payload: '{"who":"alice"}' });
    const b = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-b', type: 't', connection: bob, payload: '{"who":"bob"}' });
    const u = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-u', type: 't', payload: 'not json' });
    await n.worker.drain();
    expect(n.published.map((e) => [e.id, e.connectionId, e.payload])).toEqual([
      [a.eventId, 'con_alice', { who: 'alice' }],
      [b.eventId, 'con_bob', { who: 'bob' }],
    ]);
    const unroutable = await n.inbox.list({ unroutable: true });
    expect(unroutable.map((e: InboxEvent) => [e.id, e.state, e.lastError, e.payload.toString()])).toEqual([
      [u.eventId, 'dead', 'unroutable: no connection matched this event', 'not json'],
    ]);
    expect((await n.inbox.list({ user: 'bob' })).map((e) => e.id)).toEqual([b.eventId]);
    expect((await n.inbox.list({ user: 'alice', state: 'done' })).map((e) => e.id)).toEqual([a.eventId]);
  });

  it('the purge job keeps delivery ids and done events for the retention, then removes them; dead ones stay', async () => {
    const n = open('a');
    const purge = new PurgeJob({ inbox: n.inbox, clock, log: silentLogger(), retentionMs: 7 * DAY_MS, chunk: 2 });
    const ok = await Promise.all(
      [1, 2, 3].map((i) => n.inbox.accept({ integration: 'acme', deliveryId: `d-${i}`, type: 't', connection: alice, payload: '{}' })),
    );
    const dead = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-u', type: 't', payload: '{}' });
    await n.worker.drain();
    clock.advance(7 * DAY_MS - 1);
    expect(await purge.runOnce()).toEqual({ deliveries: 0, events: 0 });
    expect((await n.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 't', connection: alice, payload: '{}' })).outcome).toBe('duplicate');
    clock.advance(2);
    expect(await purge.runOnce()).toEqual({ deliveries: 4, events: 3 });
    expect((await n.inbox.list()).map((e) => e.id)).toEqual([dead.eventId]);
    expect(ok.every((r) => r.outcome === 'stored')).toBe(true);
  });

  it('started, it processes what is accepted without being asked, and stops cleanly', async () => {
    let wake: () => void = () => {};
    const n = open('a', { onStored: () => wake() });
    wake = () => n.worker.wake();
    const seen = new Promise<EventEnvelope>((resolve) => n.feed.subscribe((e) => resolve(e)));
    n.worker.start();
    const { eventId } = await n.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 't', connection: alice, payload: '{}' });
    expect((await seen).id).toBe(eventId);
    await n.worker.stop();
    expect(await n.inbox.get(eventId)).toMatchObject({ state: 'done' });
  });
});

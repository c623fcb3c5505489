import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../../../src/errors.js';
import type { DeliveryInput, Inbox } from '../../../src/webhooks/inbox/types.js';

export interface InboxHarness {
  inbox: Inbox;
  /** A second instance on the same store, as a second process on one data dir. */
  other: Inbox;
  advance(ms: number): void;
  now(): number;
}

const alice = { id: 'con_alice', tenant: 'default', user: 'alice' };
const bob = { id: 'con_bob', tenant: 'default', user: 'bob' };
const claimOpts = (owner: string) => ({ owner, limit: 10, leaseMs: 60_000, maxAttempts: 3 });

function delivery(over: Partial<DeliveryInput> = {}): DeliveryInput {
  return { integration: 'acme', deliveryId: 'd-1', type: 'ticket.updated', connection: alice, payload: Buffer.from('{"id":1}'), ...over };
}

/**
 * The contract every Inbox keeps, whatever stores it: run it against each implementation
 * (SQLite, PostgreSQL) with a fresh, empty store per test.
 */
export function inboxContract(name: string, make: () => InboxHarness | Promise<InboxHarness>): void {
  describe(`Inbox contract: ${name}`, () => {
    let h: InboxHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('stores a delivery once; a redelivery is a duplicate naming the first event, per (integration, endpoint, delivery id)', async () => {
      const first = await h.inbox.accept(delivery());
      expect(first).toEqual({ outcome: 'stored', eventId: expect.stringMatching(/^evt_[0-9a-z]{9}[0-9a-f]{16}$/), routed: true });
      expect(await h.inbox.accept(delivery({ payload: 'a different body' }))).toEqual({ outcome: 'duplicate', eventId: first.eventId, routed: true });
      expect(await h.other.accept(delivery())).toEqual({ outcome: 'duplicate', eventId: first.eventId, routed: true });
      // The same id on another endpoint or integration is another delivery.
      expect((await h.inbox.accept(delivery({ endpoint: 'ep-2', connection: bob }))).outcome).toBe('stored');
      expect((await h.inbox.accept(delivery({ integration: 'other' }))).outcome).toBe('stored');
      const e = await h.inbox.get(first.eventId);
      expect(e).toMatchObject({
        integration: 'acme',
        endpoint: '',
        type: 'ticket.updated',
        source: 'webhook',
        state: 'pending',
        attempts: 0,
        connection: alice,
      });
      expect(e!.receivedAt).toBe(h.now());
      expect(e!.payload.toString()).toBe('{"id":1}');
    });

    it('the same provider event from a webhook and a poll is one event per connection; unroutable ones dedupe too', async () => {
      const hook = await h.inbox.accept(delivery({ providerEventId: 'ev-9' }));
      const poll = await h.inbox.accept({ integration: 'acme', source: 'poll', providerEventId: 'ev-9', type: 't', connection: alice, payload: '{}' });
      expect(poll).toEqual({ outcome: 'duplicate', eventId: hook.eventId, routed: true });
      // A redelivery of a webhook whose event a poll stored first names that event.
      const polled = await h.inbox.accept({ integration: 'acme', source: 'poll', providerEventId: 'ev-10', type: 't', connection: alice, payload: '{}' });
      expect(await h.inbox.accept(delivery({ deliveryId: 'd-2', providerEventId: 'ev-10' }))).toEqual({
        outcome: 'duplicate',
        eventId: polled.eventId,
        routed: true,
      });
      expect(await h.inbox.accept(delivery({ deliveryId: 'd-2', providerEventId: 'ev-10' }))).toEqual({
        outcome: 'duplicate',
        eventId: polled.eventId,
        routed: true,
      });
      // Another connection's event of the same id is its own.
      expect((await h.inbox.accept(delivery({ deliveryId: 'd-3', providerEventId: 'ev-9', connection: bob }))).outcome).toBe('stored');
      const { connection: _, ...unrouted } = delivery({ deliveryId: 'd-4', providerEventId: 'ev-9' });
      const u = await h.inbox.accept(unrouted);
      expect(u.outcome).toBe('stored');
      expect(await h.inbox.accept({ ...unrouted, deliveryId: 'd-5' })).toEqual({ outcome: 'duplicate', eventId: u.eventId, routed: false });
      expect((await h.inbox.list()).length).toBe(4);
    });

    it('10 copies of one delivery at the same instant, on two instances: one row, every caller answered', async () => {
      const copies = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? h.inbox : h.other).accept(delivery()));
      const results = await Promise.all(copies);
      const stored = results.filter((r) => r.outcome === 'stored');
      expect(stored.length).toBe(1);
      expect(new Set(results.map((r) => r.eventId))).toEqual(new Set([stored[0]!.eventId]));
      expect((await h.inbox.list()).length).toBe(1);
    });

    it('keeps over-long ids as their sha256 digest, so redeliveries still dedupe, and cuts an over-long type', async () => {
      const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
      const longDelivery = `d-${'x'.repeat(600)}`;
      const longEvent = `e-${'y'.repeat(5000)}`;
      const type = `${'t'.repeat(255)}\u{1F600}rest`;
      const first = await h.inbox.accept(delivery({ deliveryId: longDelivery, providerEventId: longEvent, type }));
      expect(first.outcome).toBe('stored');
      // The same delivery again, on either instance: one event.
      expect(await h.other.accept(delivery({ deliveryId: longDelivery, providerEventId: longEvent, type }))).toEqual({
        outcome: 'duplicate',
        eventId: first.eventId,
        routed: true,
      });
      // Another delivery of the same provider event (a redelivery under a new id, or a poll): the same event.
      expect(await h.inbox.accept(delivery({ deliveryId: 'd-other', providerEventId: longEvent }))).toEqual({
        outcome: 'duplicate',
        eventId: first.eventId,
        routed: true,
      });
      // Ids that differ only past the first 512 characters are different ids.
      expect((await h.inbox.accept(delivery({ deliveryId: `${longDelivery}z`, providerEventId: `${longEvent}z` }))).outcome).toBe('stored');
      const e = await h.inbox.get(first.eventId);
      // Cut before the emoji rather than through it: no lone surrogate is stored.
      expect(e).toMatchObject({ providerEventId: digest(longEvent), type: 't'.repeat(255) });
      // At the limit an id is kept as sent.
      const atLimit = 'z'.repeat(512);
      const kept = await h.inbox.accept(delivery({ deliveryId: atLimit, providerEventId: atLimit }));
      expect((await h.inbox.get(kept.eventId))?.providerEventId).toBe(atLimit);
      expect(await h.inbox.accept(delivery({ deliveryId: atLimit }))).toEqual({ outcome: 'duplicate', eventId: kept.eventId, routed: true });
    });

    it('refuses a malformed delivery with invalid_params, storing nothing', async () => {
      const err = await h.inbox.accept({ ...delivery(), source: 'email' as 'poll' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HubError);
      expect(err).toMatchObject({ code: 'invalid_params', message: expect.stringContaining('source') });
      expect(await h.inbox.list()).toEqual([]);
    });

    it('a claim leases rows to one owner; after the lease expires another claims them and the first can no longer complete', async () => {
      const { eventId } = await h.inbox.accept(delivery());
      const a = await h.inbox.claim(claimOpts('a'));
      expect(a.map((e) => [e.id, e.state, e.attempts])).toEqual([[eventId, 'processing', 1]]);
      expect(await h.other.claim(claimOpts('b'))).toEqual([]);
      h.advance(59_999);
      expect(await h.other.claim(claimOpts('b'))).toEqual([]);
      h.advance(1);
      const b = await h.other.claim(claimOpts('b'));
      expect(b.map((e) => [e.id, e.attempts])).toEqual([[eventId, 2]]);
      expect(await h.inbox.complete(eventId, 'a')).toBe(false);
      expect(await h.inbox.fail(eventId, 'a', { error: 'late', retryAt: 'never' })).toBe(false);
      expect(await h.other.complete(eventId, 'b')).toBe(true);
      expect(await h.other.complete(eventId, 'b')).toBe(false);
      expect(await h.inbox.get(eventId)).toMatchObject({ state: 'done', attempts: 2, lastError: null });
    });

    it('completeAll marks done only the events the owner still holds, in one call', async () => {
      const one = await h.inbox.accept(delivery({ deliveryId: 'c-1' }));
      const two = await h.inbox.accept(delivery({ deliveryId: 'c-2', connection: bob }));
      const three = await h.inbox.accept(delivery({ deliveryId: 'c-3' }));
      const all = [one.eventId, two.eventId, three.eventId];
      expect((await h.inbox.claim(claimOpts('a'))).map((e) => e.id).sort()).toEqual([...all].sort());
      // One lease expires into another worker's hands; `a` still holds the other two.
      h.advance(60_000);
      const [taken] = (await h.other.claim({ ...claimOpts('b'), limit: 1 })).map((e) => e.id);
      const mine = all.filter((id) => id !== taken);
      expect((await h.inbox.completeAll(all, 'a')).sort()).toEqual([...mine].sort());
      expect(await h.inbox.completeAll(all, 'a')).toEqual([]);
      expect(await h.other.completeAll([taken!], 'b')).toEqual([taken]);
      for (const id of all) expect((await h.inbox.get(id))?.state).toBe('done');
    });

    it('rows leased to a holder known to be gone are claimable at once; a live holder keeps them', async () => {
      const { eventId } = await h.inbox.accept(delivery({ deliveryId: 'k-1' }));
      expect((await h.inbox.claim(claimOpts('a'))).map((e) => e.id)).toEqual([eventId]);
      expect(await h.other.claim({ ...claimOpts('b'), ownerIsDead: () => false })).toEqual([]);
      const again = await h.other.claim({ ...claimOpts('b'), ownerIsDead: (owner) => owner === 'a' });
      expect(again.map((e) => [e.id, e.attempts])).toEqual([[eventId, 2]]);
      expect(await h.inbox.complete(eventId, 'a')).toBe(false);
      expect(await h.other.completeAll([eventId], 'b')).toEqual([eventId]);
    });

    it('an event no connection matched is stored dead with its reason, never claimed', async () => {
      const { outcome, eventId } = await h.inbox.accept(delivery({ deliveryId: 'u-1', connection: undefined }));
      expect(outcome).toBe('stored');
      expect(await h.inbox.get(eventId)).toMatchObject({ state: 'dead', attempts: 0, lastError: 'unroutable: no connection matched this event' });
      expect(await h.inbox.claim(claimOpts('a'))).toEqual([]);
    });

    it('a failure waits until its retry time; a final failure is dead; a lease lost at the last attempt is dead too', async () => {
      const one = await h.inbox.accept(delivery());
      const two = await h.inbox.accept(delivery({ deliveryId: 'd-2' }));
      await h.inbox.claim(claimOpts('w'));
      expect(await h.inbox.fail(one.eventId, 'w', { error: 'provider said 503', retryAt: h.now() + 5_000 })).toBe('failed');
      expect(await h.inbox.fail(two.eventId, 'w', { error: 'bad payload', retryAt: 'never' })).toBe('dead');
      expect(await h.inbox.get(one.eventId)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'provider said 503', nextAttemptAt: h.now() + 5_000 });
      h.advance(4_999);
      expect(await h.inbox.claim(claimOpts('w'))).toEqual([]);
      h.advance(1);
      expect((await h.inbox.claim(claimOpts('w'))).map((e) => e.id)).toEqual([one.eventId]);
      // Attempts 2 and 3 end with the worker gone: the third lease expiring makes it dead, not run a fourth time.
      h.advance(60_000);
      expect((await h.inbox.claim(claimOpts('w2'))).map((e) => e.attempts)).toEqual([3]);
      h.advance(60_000);
      expect(await h.inbox.claim(claimOpts('w3'))).toEqual([]);
      expect(await h.inbox.get(one.eventId)).toMatchObject({
        state: 'dead',
        attempts: 3,
        lastError: expect.stringContaining('lease expired after attempt 3 of 3'),
      });
      expect((await h.inbox.list({ state: 'dead' })).map((e) => e.id).sort()).toEqual([one.eventId, two.eventId].sort());
    });

    it('replay: dead, failed and done go back to pending with attempts reset; pending, processing and unknown ones are refused', async () => {
      expect(await h.inbox.replay('evt_nope')).toEqual({ outcome: 'not_found' });
      const { eventId } = await h.inbox.accept(delivery());
      expect(await h.inbox.replay(eventId)).toEqual({ outcome: 'busy', state: 'pending' });
      await h.inbox.claim(claimOpts('w'));
      expect(await h.inbox.replay(eventId)).toEqual({ outcome: 'busy', state: 'processing' });
      await h.inbox.fail(eventId, 'w', { error: 'boom', retryAt: 'never' });
      h.advance(1_000);
      expect(await h.other.replay(eventId)).toEqual({ outcome: 'replayed', from: 'dead' });
      expect(await h.inbox.get(eventId)).toMatchObject({ state: 'pending', attempts: 0, lastError: null, nextAttemptAt: h.now() });
      await h.inbox.claim(claimOpts('w'));
      await h.inbox.complete(eventId, 'w');
      expect(await h.inbox.replay(eventId)).toEqual({ outcome: 'replayed', from: 'done' });
    });

    it('lists newest first, filtered by state, integration, tenant/user and unroutable', async () => {
      const a = await h.inbox.accept(delivery({ deliveryId: 'a' }));
      h.advance(1);
      const b = await h.inbox.accept(delivery({ deliveryId: 'b', connection: bob }));
      h.advance(1);
      const { connection: _, ...unrouted } = delivery({ deliveryId: 'c', integration: 'other' });
      const c = await h.inbox.accept(unrouted);
      const ids = async (f: Parameters<Inbox['list']>[0]) => (await h.inbox.list(f)).map((e) => e.id);
      expect(await ids({})).toEqual([c.eventId, b.eventId, a.eventId]);
      expect(await ids({ limit: 1 })).toEqual([c.eventId]);
      expect(await ids({ user: 'alice' })).toEqual([a.eventId]);
      expect(await ids({ tenant: 'default', user: 'bob' })).toEqual([b.eventId]);
      expect(await ids({ integration: 'other' })).toEqual([c.eventId]);
      expect(await ids({ unroutable: true })).toEqual([c.eventId]);
      expect(await ids({ state: 'done' })).toEqual([]);
      expect((await h.inbox.get(c.eventId))!.connection).toBeNull();
    });

    it('purge removes delivery ids and done events received before the cut, in chunks; dead and failed ones stay', async () => {
      const done = await h.inbox.accept(delivery({ deliveryId: 'old-done' }));
      const dead = await h.inbox.accept(delivery({ deliveryId: 'old-dead' }));
      const failed = await h.inbox.accept(delivery({ deliveryId: 'old-failed' }));
      h.advance(60_000);
      await h.inbox.claim(claimOpts('w'));
      await h.inbox.complete(done.eventId, 'w');
      await h.inbox.fail(dead.eventId, 'w', { error: 'x', retryAt: 'never' });
      await h.inbox.fail(failed.eventId, 'w', { error: 'x', retryAt: h.now() + 3_600_000 });
      const cut = h.now();
      h.advance(1);
      const fresh = await h.inbox.accept(delivery({ deliveryId: 'fresh' }));
      expect(await h.inbox.purge(cut, 2)).toEqual({ deliveries: 2, events: 1 });
      expect(await h.inbox.purge(cut, 2)).toEqual({ deliveries: 1, events: 0 });
      expect((await h.inbox.list()).map((e) => e.id).sort()).toEqual([dead.eventId, failed.eventId, fresh.eventId].sort());
      // Past the window a redelivery is new; within it, still a duplicate.
      expect((await h.inbox.accept(delivery({ deliveryId: 'old-done' }))).outcome).toBe('stored');
      expect(await h.inbox.accept(delivery({ deliveryId: 'fresh' }))).toEqual({ outcome: 'duplicate', eventId: fresh.eventId, routed: true });
    });
    it('a polled page and its cursor commit together: the same page from the old cursor again is a conflict and stores nothing', async () => {
      const polled = (id: string, over: Partial<DeliveryInput> = {}): DeliveryInput => ({
        integration: 'acme',
        source: 'poll',
        providerEventId: id,
        type: 'ticket.updated',
        connection: alice,
        payload: `{"id":"${id}"}`,
        ...over,
      });
      const cursor = { integration: 'acme', connectionId: alice.id, feed: 'events', from: null, to: 'c1' };
      expect(await h.inbox.cursorOf(alice.id, 'events')).toBeUndefined();
      const first = await h.inbox.acceptPolled([polled('ev-1'), polled('ev-2')], cursor);
      expect(first).toEqual({
        outcome: 'committed',
        results: [
          { outcome: 'stored', eventId: expect.any(String), routed: true },
          { outcome: 'stored', eventId: expect.any(String), routed: true },
        ],
      });
      expect(await h.other.cursorOf(alice.id, 'events')).toBe('c1');
      // A second poller that read the same cursor (another process) is refused whole.
      expect(await h.other.acceptPolled([polled('ev-3')], cursor)).toEqual({ outcome: 'conflict' });
      expect((await h.inbox.list()).map((e) => e.providerEventId).sort()).toEqual(['ev-1', 'ev-2']);
      // An inclusive cursor re-reads the last item: the dedupe answers it, the cursor moves on.
      const next = await h.inbox.acceptPolled([polled('ev-2'), polled('ev-3')], { ...cursor, from: 'c1', to: 'c2' });
      expect(next.outcome === 'committed' && next.results.map((r) => r.outcome)).toEqual(['duplicate', 'stored']);
      expect(await h.inbox.cursorOf(alice.id, 'events')).toBe('c2');
      // A webhook of a polled change is the same event (layer two); a page that names another connection is refused.
      const hook = await h.inbox.accept(delivery({ providerEventId: 'ev-3' }));
      expect(hook.outcome).toBe('duplicate');
      const mixed = await h.inbox.acceptPolled([polled('ev-4', { connection: bob })], { ...cursor, from: 'c2', to: 'c3' }).catch((e: unknown) => e);
      expect(mixed).toMatchObject({ code: 'invalid_params' });
      const e = await h.inbox.get(hook.eventId);
      expect(e).toMatchObject({ source: 'poll', providerEventId: 'ev-3', connection: alice, state: 'pending' });
      expect(e!.payload.toString()).toBe('{"id":"ev-3"}');
    });

    it('purge keeps done polled events stored since their cursor last moved (an inclusive cursor reads them again); once it moves on they go', async () => {
      const polled = (id: string, connection = alice): DeliveryInput => ({
        integration: 'acme',
        source: 'poll',
        providerEventId: id,
        type: 't',
        connection,
        payload: '{}',
      });
      const cursor = { integration: 'acme', feed: 'events', from: null, to: 'c1' };
      const a = await h.inbox.acceptPolled([polled('ev-1'), polled('ev-2')], { ...cursor, connectionId: alice.id });
      const b = await h.inbox.acceptPolled([polled('ev-9', bob)], { ...cursor, connectionId: bob.id });
      const webhook = await h.inbox.accept(delivery({ deliveryId: 'hook-1' }));
      for (const e of await h.inbox.claim(claimOpts('w'))) await h.inbox.complete(e.id, 'w');
      h.advance(60_000);
      const cut = h.now();
      // Alice's cursor has not moved since her events were stored, nor has Bob's: only the webhook's event goes.
      expect((await h.inbox.purge(cut)).events).toBe(1);
      expect(await h.inbox.get(webhook.eventId)).toBeUndefined();
      const kept = (r: typeof a) => (r.outcome === 'committed' ? r.results.map((x) => x.eventId) : []);
      for (const id of [...kept(a), ...kept(b)]) expect(await h.inbox.get(id)).toBeDefined();
      // Alice's cursor moves on (the inclusive read of ev-2 is a duplicate): her old events are history now, Bob's are not.
      h.advance(5_000);
      const next = await h.inbox.acceptPolled([polled('ev-2'), polled('ev-3')], { ...cursor, connectionId: alice.id, from: 'c1', to: 'c2' });
      expect(next.outcome === 'committed' && next.results.map((r) => r.outcome)).toEqual(['duplicate', 'stored']);
      expect((await h.inbox.purge(cut)).events).toBe(2);
      for (const id of kept(a)) expect(await h.inbox.get(id)).toBeUndefined();
      for (const id of kept(b)) expect(await h.inbox.get(id)).toBeDefined();
    });

    it('purge keeps a webhook event a polled page found again while that cursor stands (it reads it again); once it moves on it goes', async () => {
      const hook = await h.inbox.accept(delivery({ deliveryId: 'hook-5', providerEventId: 'ev-5' }));
      h.advance(60_000);
      const polled = (id: string): DeliveryInput => ({ integration: 'acme', source: 'poll', providerEventId: id, type: 't', connection: alice, payload: '{}' });
      const cursor = { integration: 'acme', connectionId: alice.id, feed: 'events', from: null, to: 'c1' };
      const first = await h.inbox.acceptPolled([polled('ev-5')], cursor);
      expect(first).toEqual({ outcome: 'committed', results: [{ outcome: 'duplicate', eventId: hook.eventId, routed: true }] });
      for (const e of await h.inbox.claim(claimOpts('w'))) await h.inbox.complete(e.id, 'w');
      h.advance(60_000);
      expect((await h.inbox.purge(h.now())).events).toBe(0);
      // The cursor moves on to a page without it: history now.
      await h.inbox.acceptPolled([polled('ev-6')], { ...cursor, from: 'c1', to: 'c2' });
      expect((await h.inbox.purge(h.now())).events).toBe(1);
      expect(await h.inbox.get(hook.eventId)).toBeUndefined();
    });

    it("a polled page names a lease owner: refused unless that owner holds the poller's lease", async () => {
      const page = [{ integration: 'acme', source: 'poll' as const, providerEventId: 'ev-1', type: 't', connection: alice, payload: '{}' }];
      expect(await h.inbox.acceptPolled(page, { integration: 'acme', connectionId: alice.id, feed: 'events', from: null, to: 'c1', owner: 'nobody' })).toEqual({
        outcome: 'conflict',
      });
      expect(await h.inbox.list()).toEqual([]);
    });
  });
}

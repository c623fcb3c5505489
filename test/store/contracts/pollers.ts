import { beforeEach, describe, expect, it } from 'vitest';
import type { PollerKey, PollerStore, RunRecord } from '../../../src/polling/store.js';

export interface PollersHarness {
  store: PollerStore;
  /** Another handle on the same store, as another process (or replica) polling it. */
  other: PollerStore;
  advance(ms: number): void;
  now(): number;
  /** A connection row in this state, as linking (and revoking) leaves one. */
  connection(id: string, state: 'active' | 'needs_reauth' | 'revoked' | 'error'): Promise<void>;
}

const key = (connectionId: string, feed = 'issues'): PollerKey => ({ connectionId, feed });

const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  intervalMs: 60_000,
  nextRunAt: 0,
  emptyPolls: 0,
  failures: 0,
  stuckPages: 0,
  state: 'active',
  reason: null,
  pausedUntil: null,
  lastError: null,
  stored: 0,
  ...over,
});

/**
 * The contract every PollerStore keeps (SQLite, PostgreSQL), with a fresh, empty store per test:
 * a feed's row is made once, due rows are leased by one owner at a time, and only the owner's
 * run is recorded.
 */
export function pollerStoreContract(name: string, make: () => PollersHarness | Promise<PollersHarness>): void {
  describe(`PollerStore contract: ${name}`, () => {
    let h: PollersHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('due with a filter reads only the feeds named, of active connections: stopped pollers never fill the page', async () => {
      await h.connection('gone1', 'revoked');
      await h.connection('gone2', 'needs_reauth');
      await h.connection('live', 'active');
      await h.store.ensure(key('gone1'), 'acme');
      await h.store.ensure(key('gone2'), 'acme');
      h.advance(1_000);
      await h.store.ensure(key('live', 'dropped'), 'acme');
      await h.store.ensure(key('live'), 'acme');
      // Unfiltered, the oldest rows fill the page.
      expect(await h.store.due(2)).toEqual([key('gone1'), key('gone2')]);
      expect(await h.other.due(2, undefined, { feeds: [{ integration: 'acme', feed: 'issues' }] })).toEqual([key('live')]);
      expect(await h.other.due(2, undefined, { feeds: [{ integration: 'other', feed: 'issues' }] })).toEqual([]);
    });

    it('ensure makes a feed’s row once, due at once; an existing row is left alone', async () => {
      const t = h.now();
      await h.store.ensure(key('c1'), 'github');
      expect(await h.other.get(key('c1'))).toEqual({
        connectionId: 'c1',
        feed: 'issues',
        integration: 'github',
        cursor: null,
        intervalMs: 0,
        nextRunAt: t,
        emptyPolls: 0,
        failures: 0,
        stuckPages: 0,
        state: 'active',
        reason: null,
        pausedUntil: null,
        lastError: null,
        lastPollAt: null,
        lastEventAt: null,
        eventsTotal: 0,
        leaseOwner: null,
        leaseUntil: null,
        updatedAt: t,
      });
      expect(await h.store.claim(key('c1'), 'p1', 30_000)).toBeDefined();
      expect(await h.store.finish(key('c1'), 'p1', run({ nextRunAt: t + 60_000 }))).toBe(true);
      h.advance(10);
      await h.other.ensure(key('c1'), 'renamed');
      expect(await h.store.get(key('c1'))).toMatchObject({ integration: 'github', nextRunAt: t + 60_000, intervalMs: 60_000, updatedAt: t });
      expect(await h.store.get(key('c1', 'other-feed'))).toBeUndefined();
    });

    it('due lists rows due now and not leased, soonest first, up to the limit', async () => {
      await h.store.ensure(key('c1'), 'github');
      h.advance(1);
      await h.store.ensure(key('c2'), 'github');
      h.advance(1);
      await h.store.ensure(key('c3'), 'github');
      expect(await h.other.due(10)).toEqual([key('c1'), key('c2'), key('c3')]);
      expect(await h.other.due(2)).toEqual([key('c1'), key('c2')]);
      await h.store.claim(key('c1'), 'p1', 30_000);
      await h.store.claim(key('c3'), 'p1', 30_000);
      await h.store.finish(key('c3'), 'p1', run({ nextRunAt: h.now() + 5000 }));
      expect(await h.other.due(10)).toEqual([key('c2')]);
      // A lease that ran out (its holder died) makes the row due again, as does its next run time.
      h.advance(30_000);
      expect(await h.other.due(10)).toEqual([key('c1'), key('c2'), key('c3')]);
    });

    it('claims once: of two owners one takes the lease; a row not yet due cannot be taken; an expired lease can', async () => {
      await h.store.ensure(key('c1'), 'github');
      const t = h.now();
      const [a, b] = await Promise.all([h.store.claim(key('c1'), 'p1', 30_000), h.other.claim(key('c1'), 'p2', 30_000)]);
      expect([a, b].filter((r) => r !== undefined)).toHaveLength(1);
      const winner = a === undefined ? 'p2' : 'p1';
      expect(a ?? b).toMatchObject({ leaseOwner: winner, leaseUntil: t + 30_000, lastPollAt: t, updatedAt: t });
      h.advance(29_999);
      expect(await h.other.claim(key('c1'), 'p3', 30_000)).toBeUndefined();
      h.advance(1);
      expect(await h.other.claim(key('c1'), 'p3', 30_000)).toMatchObject({ leaseOwner: 'p3' });
      // The first owner's late finish is refused: p3 holds the row now.
      expect(await h.store.finish(key('c1'), winner, run())).toBe(false);
      expect(await h.store.finish(key('c1'), 'p3', run({ nextRunAt: h.now() + 60_000 }))).toBe(true);
      expect(await h.store.claim(key('c1'), 'p4', 30_000)).toBeUndefined();
      expect(await h.store.claim(key('nope'), 'p1', 30_000)).toBeUndefined();
    });

    it('a lease whose holder is dead is due and taken at once; one whose holder lives runs its course', async () => {
      await h.store.ensure(key('c1'), 'github');
      await h.store.ensure(key('c2'), 'github');
      expect(await h.store.claim(key('c1'), 'killed', 300_000)).toMatchObject({ leaseOwner: 'killed' });
      expect(await h.store.claim(key('c2'), 'alive', 300_000)).toMatchObject({ leaseOwner: 'alive' });
      const dead = (owner: string) => owner === 'killed';
      // Without the check both wait for their leases; with it the dead holder's row is free.
      expect(await h.other.due(10)).toEqual([]);
      expect(await h.other.due(10, dead)).toEqual([key('c1')]);
      expect(await h.other.claim(key('c2'), 'p2', 30_000, dead)).toBeUndefined();
      expect(await h.other.claim(key('c1'), 'p2', 30_000)).toBeUndefined();
      expect(await h.other.claim(key('c1'), 'p2', 30_000, dead)).toMatchObject({ leaseOwner: 'p2', leaseUntil: h.now() + 30_000 });
      // The dead holder's late finish is refused; the new holder's counts. A holder is never judged dead by itself.
      expect(await h.store.finish(key('c1'), 'killed', run())).toBe(false);
      expect(await h.other.claim(key('c1'), 'p2', 30_000, () => true)).toBeUndefined();
      expect(await h.other.finish(key('c1'), 'p2', run({ nextRunAt: h.now() + 60_000 }))).toBe(true);
      h.advance(300_000);
      expect(await h.other.claim(key('c2'), 'p3', 30_000)).toMatchObject({ leaseOwner: 'p3' });
    });

    it('finish records the run, adds its events, dates the last event only when there were some, and lets the lease go', async () => {
      await h.store.ensure(key('c1'), 'github');
      const t = h.now();
      await h.store.claim(key('c1'), 'p1', 30_000);
      h.advance(100);
      const first = run({ nextRunAt: t + 1000, emptyPolls: 0, stored: 3, failures: 1, lastError: 'HTTP 502', pausedUntil: t + 500 });
      expect(await h.other.finish(key('c1'), 'p1', first)).toBe(true);
      expect(await h.store.get(key('c1'))).toMatchObject({
        intervalMs: 60_000,
        nextRunAt: t + 1000,
        failures: 1,
        lastError: 'HTTP 502',
        pausedUntil: t + 500,
        eventsTotal: 3,
        lastEventAt: t + 100,
        leaseOwner: null,
        leaseUntil: null,
        updatedAt: t + 100,
      });
      h.advance(900);
      await h.store.claim(key('c1'), 'p2', 30_000);
      h.advance(5);
      const stalled = run({ nextRunAt: t + 9000, emptyPolls: 1, stuckPages: 2, state: 'stalled', reason: 'the cursor did not move' });
      expect(await h.store.finish(key('c1'), 'p2', stalled)).toBe(true);
      expect(await h.other.get(key('c1'))).toMatchObject({
        state: 'stalled',
        reason: 'the cursor did not move',
        emptyPolls: 1,
        stuckPages: 2,
        eventsTotal: 3,
        lastEventAt: t + 100,
        lastPollAt: t + 1000,
      });
      expect(await h.store.finish(key('c1'), 'p2', run())).toBe(false);
    });

    it('lists every row by integration, connection and feed, or those of some connections', async () => {
      await h.store.ensure(key('c2', 'b'), 'linear');
      await h.store.ensure(key('c1', 'b'), 'github');
      await h.store.ensure(key('c1', 'a'), 'github');
      await h.store.ensure(key('c3', 'a'), 'github');
      const keys = (rows: PollerKey[]) => rows.map((r) => `${r.connectionId}/${r.feed}`);
      expect(keys(await h.other.list())).toEqual(['c1/a', 'c1/b', 'c3/a', 'c2/b']);
      expect(keys(await h.other.list({ connectionIds: ['c1', 'c2'] }))).toEqual(['c1/a', 'c1/b', 'c2/b']);
      expect(await h.store.list({ connectionIds: [] })).toEqual([]);
    });
  });
}

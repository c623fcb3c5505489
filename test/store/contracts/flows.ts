import { beforeEach, describe, expect, it } from 'vitest';
import type { FlowRecord, FlowRepository } from '../../../src/oauth/flow-store.js';

export interface FlowsHarness {
  flows: FlowRepository;
  /** A second handle on the same store, as another process on one file. */
  other: FlowRepository;
  now(): number;
}

const flow = (stateHash: string, user: string, now: number, over: Partial<FlowRecord> = {}): Omit<FlowRecord, 'usedAt'> => ({
  stateHash,
  tenant: 'default',
  user,
  integration: 'acme',
  sealedVerifier: `sbv1.dk_x.${stateHash}`,
  browserHash: `browser-${user}`,
  redirectUri: 'http://127.0.0.1:8787/oauth/callback',
  createdAt: now,
  expiresAt: now + 600_000,
  ...over,
});

/**
 * The contract every FlowRepository keeps, whatever stores it: run it against each implementation
 * (SQLite and PostgreSQL) with a fresh, empty store per test.
 */
export function flowRepositoryContract(name: string, make: () => FlowsHarness | Promise<FlowsHarness>): void {
  describe(`FlowRepository contract: ${name}`, () => {
    let h: FlowsHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('finds a created flow as it was stored, unused; an unknown state is undefined', async () => {
      const f = flow('s1', 'alice', h.now());
      await h.flows.create(f);
      expect(await h.flows.find('s1')).toEqual({ ...f, usedAt: null });
      expect(await h.other.find('s1')).toEqual({ ...f, usedAt: null });
      expect(await h.flows.find('s2')).toBeUndefined();
    });

    it('a flow is spent once: the first spend wins, from either process, and records when', async () => {
      await h.flows.create(flow('s1', 'alice', h.now()));
      const outcomes = await Promise.all([h.flows.spend('s1', h.now() + 5), h.other.spend('s1', h.now() + 6)]);
      expect(outcomes.sort()).toEqual([false, true]);
      expect(await h.flows.spend('s1', h.now() + 7)).toBe(false);
      expect((await h.flows.find('s1'))?.usedAt).toBeOneOf([h.now() + 5, h.now() + 6]);
      expect(await h.flows.spend('unknown', h.now())).toBe(false);
    });

    it('lastCompleted is the latest spend of that user for that integration only', async () => {
      const t = h.now();
      expect(await h.flows.lastCompleted('default', 'alice', 'acme')).toBeUndefined();
      await h.flows.create(flow('a1', 'alice', t));
      await h.flows.create(flow('a2', 'alice', t));
      await h.flows.create(flow('a3', 'alice', t, { integration: 'other' }));
      await h.flows.create(flow('b1', 'bob', t));
      // Started but not completed: not a link.
      expect(await h.flows.lastCompleted('default', 'alice', 'acme')).toBeUndefined();
      await h.flows.spend('a1', t + 10);
      await h.flows.spend('a2', t + 20);
      await h.flows.spend('a3', t + 30);
      expect(await h.flows.lastCompleted('default', 'alice', 'acme')).toBe(t + 20);
      expect(await h.flows.lastCompleted('default', 'alice', 'other')).toBe(t + 30);
      expect(await h.flows.lastCompleted('default', 'bob', 'acme')).toBeUndefined();
      expect(await h.flows.lastCompleted('tenant2', 'alice', 'acme')).toBeUndefined();
    });

    it('purge drops the flows expired before the cut-off, used or not, and keeps the rest', async () => {
      const t = h.now();
      await h.flows.create(flow('old-used', 'alice', t, { expiresAt: t + 1 }));
      await h.flows.create(flow('old', 'bob', t, { expiresAt: t + 2 }));
      await h.flows.create(flow('at-cutoff', 'carol', t, { expiresAt: t + 3 }));
      await h.flows.spend('old-used', t);
      expect(await h.flows.purge(t + 3)).toBe(2);
      expect(await h.flows.find('old-used')).toBeUndefined();
      expect(await h.flows.find('old')).toBeUndefined();
      expect((await h.flows.find('at-cutoff'))?.user).toBe('carol');
      expect(await h.flows.purge(t + 3)).toBe(0);
    });

    it('a second flow with the same state is refused, and the first one stays as it was', async () => {
      const f = flow('s1', 'alice', h.now());
      await h.flows.create(f);
      await expect(h.flows.create(flow('s1', 'mallory', h.now()))).rejects.toThrow();
      expect(await h.flows.find('s1')).toEqual({ ...f, usedAt: null });
    });
  });
}

import { beforeEach, describe, expect, it } from 'vitest';
import type { ConnectionRepository } from '../../../src/connections/repository.js';
import type { TokenSet } from '../../../src/connections/types.js';

export interface ConnectionsHarness {
  repo: ConnectionRepository;
  /** Moves the injected clock. */
  advance(ms: number): void;
  now(): number;
}

const tokens = (n: number): TokenSet => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, tokenType: 'Bearer', expiresAt: 1_000 + n });
const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };
const alive = () => false;

/**
 * The contract every ConnectionRepository keeps, whatever stores it: run it against each
 * implementation (SQLite today, PostgreSQL later) with a fresh, empty store per test.
 */
export function connectionRepositoryContract(name: string, make: () => ConnectionsHarness | Promise<ConnectionsHarness>): void {
  describe(`ConnectionRepository contract: ${name}`, () => {
    let h: ConnectionsHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('link creates an active connection at version 1; linking again re-links the same row', async () => {
      const first = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: ['read'] });
      expect(first).toMatchObject({ ...alice, integration: 'acme', state: 'active', tokenVersion: 1, scopes: ['read'], accessExpiresAt: 1_001, reason: null });
      h.advance(1000);
      const again = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(2), scopes: ['read', 'write'] });
      expect(again).toMatchObject({ id: first.id, tokenVersion: 2, scopes: ['read', 'write'], updatedAt: h.now() });
      expect(await h.repo.tokens(again)).toEqual(tokens(2));
    });

    it('two users side by side: each finds and lists only their own', async () => {
      const a = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      const b = await h.repo.link({ ...bob, integration: 'acme', tokens: tokens(2), scopes: [] });
      expect(a.id).not.toBe(b.id);
      expect((await h.repo.find('default', 'alice', 'acme'))?.id).toBe(a.id);
      expect((await h.repo.find('default', 'bob', 'acme'))?.id).toBe(b.id);
      expect(await h.repo.find('other', 'alice', 'acme')).toBeUndefined();
      expect((await h.repo.list({ user: 'bob' })).map((c) => c.id)).toEqual([b.id]);
      expect((await h.repo.list()).map((c) => c.user)).toEqual(['alice', 'bob']);
      expect(await h.repo.tokens(a)).toEqual(tokens(1));
      expect(await h.repo.tokens(b)).toEqual(tokens(2));
    });

    it('a revoked connection keeps its row, loses its tokens, and is no longer found or listed', async () => {
      const c = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      expect(await h.repo.markRevoked(c.id, 'revoked by the user')).toBe(true);
      expect(await h.repo.markRevoked(c.id, 'again')).toBe(false);
      expect(await h.repo.get(c.id)).toMatchObject({ state: 'revoked', reason: 'revoked by the user' });
      expect(await h.repo.find('default', 'alice', 'acme')).toBeUndefined();
      expect(await h.repo.list()).toEqual([]);
      expect((await h.repo.list({ includeRevoked: true })).map((x) => x.id)).toEqual([c.id]);
      await expect(h.repo.tokens(c)).rejects.toThrow();
      // Linking again after a revocation makes a new connection.
      const next = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(2), scopes: [] });
      expect(next.id).not.toBe(c.id);
    });

    it('needs_reauth is a guarded transition from active only', async () => {
      const c = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      expect(await h.repo.markNeedsReauth(c.id, 'refresh refused')).toBe(true);
      expect(await h.repo.markNeedsReauth(c.id, 'twice')).toBe(false);
      expect(await h.repo.get(c.id)).toMatchObject({ state: 'needs_reauth', reason: 'refresh refused' });
    });

    it('one refresh lease at a time: a live holder blocks, a moved version is told, only the holder commits', async () => {
      const c = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      const won = await h.repo.tryLease(c.id, 1, 'p1', 30_000, alive);
      expect(won).toMatchObject({ kind: 'acquired', interrupted: false, connection: { refreshOwner: 'p1', refreshUntil: h.now() + 30_000 } });
      expect(await h.repo.tryLease(c.id, 1, 'p2', 30_000, alive)).toMatchObject({ kind: 'held' });
      expect(await h.repo.commitRefresh(c, 'p2', tokens(9))).toBe(false);
      expect(await h.repo.commitRefresh(c, 'p1', tokens(2))).toBe(true);
      const after = await h.repo.get(c.id);
      expect(after).toMatchObject({ tokenVersion: 2, refreshOwner: null, refreshStartedAt: null, lastRefreshAt: h.now() });
      expect(await h.repo.tokens(after!)).toEqual(tokens(2));
      expect(await h.repo.tryLease(c.id, 1, 'p2', 30_000, alive)).toMatchObject({ kind: 'moved', connection: { tokenVersion: 2 } });
    });

    it('a lease expires, or is taken from a dead holder; a released lease with an unknown outcome reads as interrupted', async () => {
      const c = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      await h.repo.tryLease(c.id, 1, 'p1', 30_000, alive);
      expect(await h.repo.tryLease(c.id, 1, 'p2', 30_000, (o) => o === 'p1')).toMatchObject({ kind: 'acquired', interrupted: true });
      await h.repo.releaseLease(c.id, 'p2', { outcomeUnknown: true });
      expect(await h.repo.get(c.id)).toMatchObject({ refreshOwner: null, refreshFailures: 1 });
      expect(await h.repo.tryLease(c.id, 1, 'p3', 30_000, alive)).toMatchObject({ kind: 'acquired', interrupted: true });
      h.advance(30_001);
      expect(await h.repo.tryLease(c.id, 1, 'p4', 30_000, alive)).toMatchObject({ kind: 'acquired', connection: { refreshOwner: 'p4' } });
      await h.repo.releaseLease(c.id, 'p4');
      expect(await h.repo.get(c.id)).toMatchObject({ refreshOwner: null, refreshStartedAt: null, refreshFailures: 2 });
    });
  });
}

import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT } from '../../../src/identity/identity.js';
import type { ApiTokens } from '../../../src/identity/tokens.js';

export interface ApiTokensHarness {
  tokens: ApiTokens;
  /** Another handle on the same store, as another process on the same data dir. */
  other: ApiTokens;
  advance(ms: number): void;
  now(): number;
}

/**
 * The contract every ApiTokens implementation keeps: run it against each one (SQLite and
 * PostgreSQL) with a fresh, empty store per test.
 */
export function apiTokensContract(name: string, make: () => ApiTokensHarness | Promise<ApiTokensHarness>): void {
  describe(`ApiTokens contract: ${name}`, () => {
    let h: ApiTokensHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('creates an sbt_ token with 256 random bits and a record in the default tenant; each token differs', async () => {
      const { token, record } = await h.tokens.create({ user: 'alice', label: 'laptop' });
      expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
      expect(record).toEqual({
        id: expect.stringMatching(/^tok_[0-9a-f]{12}$/),
        user: 'alice',
        tenant: DEFAULT_TENANT,
        scopes: ['mcp'],
        label: 'laptop',
        createdAt: h.now(),
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(await h.tokens.get(record.id)).toEqual(record);
      expect(await h.other.get(record.id)).toEqual(record);
      const again = await h.tokens.create({ user: 'alice' });
      expect(again.token).not.toBe(token);
      expect(again.record.id).not.toBe(record.id);
    });

    it('checks a token to its identity and records its use at most once a minute', async () => {
      const { token, record } = await h.tokens.create({ user: 'bob', tenant: 'acme', scopes: ['mcp', 'admin'] });
      const t0 = h.now();
      h.advance(5000);
      expect(await h.tokens.check(token)).toEqual({ tenant: 'acme', user: 'bob', scopes: ['mcp', 'admin'], tokenId: record.id });
      expect((await h.tokens.get(record.id))?.lastUsedAt).toBe(t0 + 5000);
      h.advance(30_000);
      expect(await h.other.verify(token)).toMatchObject({ user: 'bob' });
      expect((await h.tokens.get(record.id))?.lastUsedAt).toBe(t0 + 5000);
      h.advance(60_000);
      await h.tokens.verify(token);
      expect((await h.tokens.get(record.id))?.lastUsedAt).toBe(t0 + 95_000);
    });

    it('refuses unknown, malformed and oversized tokens, and another user’s token is not yours', async () => {
      const alice = await h.tokens.create({ user: 'alice' });
      for (const bad of [`sbt_${'A'.repeat(43)}`, '', 'Bearer sbt_x', `sbt_${'A'.repeat(500)}`, alice.token.slice(0, -1)]) {
        expect(await h.tokens.check(bad)).toBeUndefined();
      }
      const bob = await h.tokens.create({ user: 'bob' });
      expect((await h.tokens.verify(bob.token))?.user).toBe('bob');
      expect((await h.tokens.verify(alice.token))?.user).toBe('alice');
    });

    it('revokes once: checks fail, list hides it unless asked, listeners here are told, others see it by polling', async () => {
      const keep = await h.tokens.create({ user: 'alice' });
      const gone = await h.tokens.create({ user: 'alice' });
      const told: string[] = [];
      const stop = h.tokens.onRevoked((id) => told.push(id));
      h.advance(1000);
      expect(await h.other.revokedAmong([gone.record.id, keep.record.id])).toEqual([]);
      expect(await h.tokens.revoke(gone.record.id)).toBe(true);
      expect(told).toEqual([gone.record.id]);
      expect(await h.other.revokedAmong([gone.record.id, keep.record.id])).toEqual([gone.record.id]);
      expect(await h.tokens.verify(gone.token)).toBeUndefined();
      expect((await h.tokens.verify(keep.token))?.user).toBe('alice');
      expect((await h.tokens.get(gone.record.id))?.revokedAt).toBe(h.now());
      expect((await h.tokens.list()).map((t) => t.id)).toEqual([keep.record.id]);
      expect((await h.tokens.list({ includeRevoked: true })).map((t) => t.id).sort()).toEqual([keep.record.id, gone.record.id].sort());
      expect(await h.tokens.revoke(gone.record.id)).toBe(false);
      expect(await h.other.revoke('tok_nope')).toBe(false);
      stop();
      await h.tokens.revoke(keep.record.id);
      expect(told).toEqual([gone.record.id]);
      expect(await h.tokens.count()).toBe(2);
    });

    it('an expiring token checks as expired from its expiry on, and reads as revoked to the poll', async () => {
      const { token, record } = await h.tokens.create({ user: 'alice', expiresInMs: 60_000 });
      expect(record.expiresAt).toBe(h.now() + 60_000);
      expect(await h.tokens.revokedAmong([record.id])).toEqual([]);
      h.advance(59_999);
      expect((await h.tokens.check(token)) !== 'expired').toBe(true);
      h.advance(1);
      expect(await h.tokens.check(token)).toBe('expired');
      expect(await h.tokens.verify(token)).toBeUndefined();
      expect(await h.tokens.revokedAmong([record.id])).toEqual([record.id]);
    });

    it('refuses bad names, scopes and lifetimes with invalid_params, storing nothing', async () => {
      const bad = [
        { user: '' },
        { user: 'a b' },
        { user: 'alice', tenant: 'x/y' },
        { user: 'alice', scopes: ['root'] },
        { user: 'alice', scopes: [] },
        { user: 'alice', expiresInMs: 0 },
      ];
      for (const input of bad) await expect(h.tokens.create(input)).rejects.toMatchObject({ code: 'invalid_params' });
      expect(await h.tokens.count()).toBe(0);
    });
  });
}

import { beforeEach, describe, expect, it } from 'vitest';
import type { ConnectionRepository } from '../../../src/connections/repository.js';
import type { TokenSet } from '../../../src/connections/types.js';

export interface ConnectionWebhooksHarness {
  repo: ConnectionRepository;
  /** A second instance on the same store, as another process on the same file (or another replica on the same database). */
  other: ConnectionRepository;
  /** The sealed secret column as stored, to show it is not the plain value. */
  storedSecret(id: string): string | null | Promise<string | null>;
}

const tokens = (n: number): TokenSet => ({ accessToken: `at-${n}`, tokenType: 'Bearer' });
const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Account ids, endpoint ids and per-connection webhook secrets: the contract every ConnectionRepository keeps. */
export function connectionWebhooksContract(name: string, make: () => ConnectionWebhooksHarness | Promise<ConnectionWebhooksHarness>): void {
  describe(`ConnectionRepository webhooks contract: ${name}`, () => {
    let h: ConnectionWebhooksHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('the account id is stored at link, cleared by a re-link that learned none (its lookup failed), replaced by one that learned another', async () => {
      const c = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'T1' });
      expect(c).toMatchObject({ accountId: 'T1', webhookEndpoint: null, hasWebhookSecret: false });
      // The re-link may be to another provider account: T1's events must not keep reaching this user.
      expect((await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(2), scopes: [] })).accountId).toBeNull();
      expect(await h.repo.byAccount('acme', 'T1')).toEqual([]);
      expect((await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(3), scopes: [], accountId: 'T2' })).accountId).toBe('T2');
      expect((await h.repo.link({ ...bob, integration: 'acme', tokens: tokens(4), scopes: [] })).accountId).toBeNull();
    });

    it('byAccount finds the live connections of that integration and account, oldest first, never a revoked one', async () => {
      const a = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'T1' });
      const b = await h.repo.link({ ...bob, integration: 'acme', tokens: tokens(2), scopes: [], accountId: 'T1' });
      await h.repo.link({ ...alice, integration: 'other', tokens: tokens(3), scopes: [], accountId: 'T1' });
      expect((await h.repo.byAccount('acme', 'T1')).map((c) => c.id)).toEqual([a.id, b.id]);
      expect(await h.repo.byAccount('acme', 'T9')).toEqual([]);
      await h.repo.markRevoked(a.id, 'gone');
      expect((await h.repo.byAccount('acme', 'T1')).map((c) => c.id)).toEqual([b.id]);
    });

    it('one endpoint per connection, made once even when two instances ask; unguessable, per integration, found only while live', async () => {
      const a = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      const b = await h.repo.link({ ...bob, integration: 'acme', tokens: tokens(2), scopes: [] });
      const [x, y] = await Promise.all([h.repo.ensureEndpoint(a.id), h.other.ensureEndpoint(a.id)]);
      expect(x).toMatch(/^wh_[A-Za-z0-9_-]{24}$/);
      expect(y).toBe(x);
      const eb = await h.repo.ensureEndpoint(b.id);
      expect(eb).not.toBe(x);
      expect((await h.other.byEndpoint('acme', x!))?.id).toBe(a.id);
      expect(await h.repo.byEndpoint('other', x!)).toBeUndefined();
      expect(await h.repo.ensureEndpoint('conn_nope')).toBeUndefined();
      await h.repo.markRevoked(a.id, 'gone');
      expect(await h.repo.byEndpoint('acme', x!)).toBeUndefined();
      expect(await h.repo.ensureEndpoint(a.id)).toBeUndefined();
    });

    it('a webhook secret is sealed, read back by either instance, gives the connection an endpoint, and goes with a revocation', async () => {
      const a = await h.repo.link({ ...alice, integration: 'acme', tokens: tokens(1), scopes: [] });
      const set = await h.repo.setWebhookSecret(a.id, SECRET);
      expect(set).toMatchObject({ id: a.id, hasWebhookSecret: true, webhookEndpoint: expect.stringMatching(/^wh_/) });
      expect(await h.storedSecret(a.id)).not.toContain(SECRET.slice(6));
      expect(await h.other.webhookSecret(set!)).toBe(SECRET);
      const cleared = await h.repo.setWebhookSecret(a.id, null);
      expect(cleared).toMatchObject({ hasWebhookSecret: false, webhookEndpoint: set!.webhookEndpoint });
      expect(await h.repo.webhookSecret(cleared!)).toBeUndefined();
      await h.repo.setWebhookSecret(a.id, SECRET);
      await h.repo.markRevoked(a.id, 'gone');
      expect(await h.repo.get(a.id)).toMatchObject({ hasWebhookSecret: false });
      expect(await h.storedSecret(a.id)).toBeNull();
      expect(await h.repo.setWebhookSecret(a.id, SECRET)).toBeUndefined();
    });
  });
}

import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DataKeyStore, WrappedDataKey } from '../../../src/vault/data-keys.js';

export interface DataKeysHarness {
  keys: DataKeyStore;
  /** A second handle on the same store, as another process on one file. */
  other: DataKeyStore;
  now(): number;
}

const key = (id: string, tenant: string, masterId = 'mk_1'): Omit<WrappedDataKey, 'state'> => ({ id, tenant, wrapped: randomBytes(60), masterId });

/**
 * The contract every DataKeyStore keeps, whatever stores it: run it against each implementation
 * (SQLite today, PostgreSQL later) with a fresh, empty store per test. The store never sees a
 * data key unwrapped: these are opaque bytes to it.
 */
export function dataKeyStoreContract(name: string, make: () => DataKeysHarness | Promise<DataKeysHarness>): void {
  describe(`DataKeyStore contract: ${name}`, () => {
    let h: DataKeysHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('starts empty; a created key is the tenant active key, listed by both processes', async () => {
      expect(await h.keys.all()).toEqual([]);
      const k = key('dk_a', 'acme');
      expect(await h.keys.create(k, h.now())).toEqual({ ...k, state: 'active' });
      expect(await h.other.all()).toEqual([{ ...k, state: 'active' }]);
    });

    it('one active key per tenant: a second create, from either process, returns the first', async () => {
      const first = key('dk_1', 'acme');
      await h.keys.create(first, h.now());
      expect(await h.other.create(key('dk_2', 'acme'), h.now())).toEqual({ ...first, state: 'active' });
      expect((await h.keys.all()).map((k) => k.id)).toEqual(['dk_1']);
    });

    it('two processes creating a tenant key at once agree on one', async () => {
      const [x, y] = await Promise.all([h.keys.create(key('dk_x', 'beta'), h.now()), h.other.create(key('dk_y', 'beta'), h.now())]);
      expect(x).toEqual(y);
      expect(await h.keys.all()).toEqual([x]);
    });

    it('tenants side by side each keep their own key, listed by tenant then id', async () => {
      await h.keys.create(key('dk_2', 'beta'), h.now());
      await h.keys.create(key('dk_1', 'acme'), h.now());
      await h.keys.create(key('dk_3', 'gamma'), h.now());
      expect((await h.keys.all()).map((k) => [k.tenant, k.id])).toEqual([
        ['acme', 'dk_1'],
        ['beta', 'dk_2'],
        ['gamma', 'dk_3'],
      ]);
    });

    it('rewrap replaces the wrapping only from the master key it names, once', async () => {
      const k = key('dk_1', 'acme', 'mk_old');
      await h.keys.create(k, h.now());
      const to = { masterId: 'mk_new', wrapped: randomBytes(60) };
      expect(await h.keys.rewrap('dk_1', 'mk_other', to, h.now())).toBe(false);
      expect(await h.keys.rewrap('dk_1', 'mk_old', to, h.now())).toBe(true);
      // Two rotations racing: the one that read the old wrapping after the first committed loses.
      expect(await h.other.rewrap('dk_1', 'mk_old', { masterId: 'mk_newer', wrapped: randomBytes(60) }, h.now())).toBe(false);
      expect(await h.other.all()).toEqual([{ ...k, ...to, state: 'active' }]);
      expect(await h.keys.rewrap('dk_unknown', 'mk_old', to, h.now())).toBe(false);
    });
  });
}

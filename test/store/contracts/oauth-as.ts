import { beforeEach, describe, expect, it } from 'vitest';
import type { AsRecord, AsRecords } from '../../../src/auth/records.js';

export interface AsRecordsHarness {
  records: AsRecords;
  /** Another handle on the same store, as another process on the same data dir. */
  other: AsRecords;
  now(): number;
}

const rec = (over: Partial<AsRecord> & Pick<AsRecord, 'model' | 'key'>): AsRecord => ({ payload: `sealed:${over.key}`, ...over });

/**
 * The contract every store of the authorization server keeps (SQLite and PostgreSQL),
 * with a fresh, empty store per test.
 */
export function asRecordsContract(name: string, make: () => AsRecordsHarness | Promise<AsRecordsHarness>): void {
  describe(`AsRecords contract: ${name}`, () => {
    let h: AsRecordsHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('stores, finds by model and key, replaces, and destroys; another handle sees the same rows', async () => {
      const t = h.now();
      await h.records.upsert(rec({ model: 'AccessToken', key: 'k1', grantId: 'g1', expiresAt: t + 1000 }));
      expect(await h.other.find('AccessToken', 'k1')).toEqual({ model: 'AccessToken', key: 'k1', payload: 'sealed:k1', grantId: 'g1', expiresAt: t + 1000 });
      // Model and key together name a record.
      expect(await h.records.find('RefreshToken', 'k1')).toBeUndefined();
      await h.records.upsert(rec({ model: 'AccessToken', key: 'k1', payload: 'v2' }));
      expect(await h.records.find('AccessToken', 'k1')).toEqual({ model: 'AccessToken', key: 'k1', payload: 'v2' });
      await h.other.destroy('AccessToken', 'k1');
      expect(await h.records.find('AccessToken', 'k1')).toBeUndefined();
    });

    it('marks a record consumed once, by one handle only; replacing it clears the mark; an unknown one is not consumed', async () => {
      const t = h.now();
      await h.records.upsert(rec({ model: 'RefreshToken', key: 'r1', grantId: 'g1' }));
      expect(await h.records.consume('RefreshToken', 'r1', t + 5)).toBe(true);
      expect(await h.other.find('RefreshToken', 'r1')).toMatchObject({ consumedAt: t + 5 });
      // Spent once only, whichever handle tries again: the first mark stays.
      expect(await h.other.consume('RefreshToken', 'r1', t + 9)).toBe(false);
      expect(await h.records.find('RefreshToken', 'r1')).toMatchObject({ consumedAt: t + 5 });
      await h.records.upsert(rec({ model: 'RefreshToken', key: 'r1', grantId: 'g1' }));
      expect(await h.records.find('RefreshToken', 'r1')).not.toHaveProperty('consumedAt');
      expect(await h.records.consume('RefreshToken', 'nope', t)).toBe(false);
    });

    it('finds a session by its uid', async () => {
      await h.records.upsert(rec({ model: 'Session', key: 's1', uidKey: 'u1' }));
      await h.records.upsert(rec({ model: 'Session', key: 's2', uidKey: 'u2' }));
      expect(await h.records.findByUid('Session', 'u2')).toMatchObject({ key: 's2', uidKey: 'u2' });
      expect(await h.records.findByUid('Session', 'u3')).toBeUndefined();
      expect(await h.records.findByUid('Grant', 'u1')).toBeUndefined();
    });

    it('lists a model’s records, and those of one uid (the grants one hub token signed in)', async () => {
      await h.records.upsert(rec({ model: 'GrantInfo', key: 'i1', grantId: 'g1', uidKey: 't1' }));
      await h.records.upsert(rec({ model: 'GrantInfo', key: 'i2', grantId: 'g2', uidKey: 't1' }));
      await h.records.upsert(rec({ model: 'GrantInfo', key: 'i3', grantId: 'g3', uidKey: 't2' }));
      await h.records.upsert(rec({ model: 'Grant', key: 'g1', grantId: 'g1' }));
      expect((await h.other.list('GrantInfo')).map((r) => r.key)).toEqual(['i1', 'i2', 'i3']);
      expect((await h.other.listByUid('GrantInfo', 't1')).map((r) => r.grantId).sort()).toEqual(['g1', 'g2']);
      expect(await h.records.listByUid('Grant', 't1')).toEqual([]);
    });

    it('revokes every record of a grant, of every model, and nothing else', async () => {
      await h.records.upsert(rec({ model: 'Grant', key: 'gk', grantId: 'g1' }));
      await h.records.upsert(rec({ model: 'AccessToken', key: 'a1', grantId: 'g1' }));
      await h.records.upsert(rec({ model: 'RefreshToken', key: 'r1', grantId: 'g1' }));
      await h.records.upsert(rec({ model: 'AccessToken', key: 'a2', grantId: 'g2' }));
      await h.records.upsert(rec({ model: 'Client', key: 'c1' }));
      expect(await h.other.revokeGrant('g1')).toBe(3);
      for (const [m, k] of [
        ['Grant', 'gk'],
        ['AccessToken', 'a1'],
        ['RefreshToken', 'r1'],
      ] as const)
        expect(await h.records.find(m, k)).toBeUndefined();
      expect(await h.records.find('AccessToken', 'a2')).toBeDefined();
      expect(await h.records.find('Client', 'c1')).toBeDefined();
      expect(await h.records.revokeGrant('g1')).toBe(0);
    });

    it('reads expired rows (the caller judges them), moves an expiry, and purges at or before now only', async () => {
      const t = h.now();
      await h.records.upsert(rec({ model: 'AccessToken', key: 'old', expiresAt: t - 1 }));
      await h.records.upsert(rec({ model: 'AccessToken', key: 'edge', expiresAt: t }));
      await h.records.upsert(rec({ model: 'Client', key: 'c', expiresAt: t - 10 }));
      await h.records.upsert(rec({ model: 'Client', key: 'kept', expiresAt: t + 1 }));
      await h.records.upsert(rec({ model: 'Grant', key: 'forever' }));
      expect(await h.records.find('AccessToken', 'old')).toMatchObject({ expiresAt: t - 1 });
      await h.records.extend('Client', 'c', t + 60_000);
      expect(await h.records.purgeExpired(t)).toBe(2);
      expect(await h.records.find('AccessToken', 'old')).toBeUndefined();
      expect(await h.records.find('AccessToken', 'edge')).toBeUndefined();
      expect(await h.records.find('Client', 'c')).toMatchObject({ expiresAt: t + 60_000 });
      expect(await h.records.find('Client', 'kept')).toBeDefined();
      expect(await h.records.find('Grant', 'forever')).toBeDefined();
    });
  });
}

/**
 * The library's storage on the hub's store, as two processes on one data dir see it: payloads
 * sealed and read back, a spent token reported as spent, and a token spent by the other process
 * between the library's check and its mark refused as reuse, which ends the grant.
 */
import { describe, expect, it } from 'vitest';
import { hashId, hubAdapter } from '../../src/auth/adapter.js';
import { SqliteAsRecords } from '../../src/auth/records.js';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

function twoProcesses() {
  const clock = manualClock();
  const db = openDb({ file: ':memory:', clock });
  const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock });
  const A = hubAdapter({ records: new SqliteAsRecords(db), vault, clock });
  const B = hubAdapter({ records: new SqliteAsRecords(db), vault, clock });
  return { clock, db, a: (m: string) => new A(m), b: (m: string) => new B(m) };
}

describe('the authorization server adapter', () => {
  it('seals payloads bound to their row and reads them back; the row is keyed by a hash of the id', async () => {
    const { db, a, b } = twoProcesses();
    const payload = { jti: 'rt-secret-value', grantId: 'g1', accountId: 'default/alice', exp: 2_000_000_000 };
    await a('RefreshToken').upsert('rt-secret-value', payload, 3600);
    expect(await b('RefreshToken').find('rt-secret-value')).toEqual(payload);
    const row = db.prepare('SELECT key, payload, grant_id FROM oauth_as_records').get() as { key: string; payload: string; grant_id: string };
    expect(row.key).toBe(hashId('rt-secret-value'));
    expect(row.grant_id).toBe('g1');
    expect(row.payload).not.toContain('rt-secret-value');
    // Moved to another row, the envelope does not open.
    db.prepare("UPDATE oauth_as_records SET model = 'AccessToken'").run();
    await expect(b('AccessToken').find('rt-secret-value')).rejects.toMatchObject({ code: 'vault_decrypt_failed' });
  });

  it('a token spent by the other process after this one read it: refused as reuse, and the grant ends', async () => {
    const { a, b } = twoProcesses();
    await a('RefreshToken').upsert('rt1', { jti: 'rt1', grantId: 'g1' }, 3600);
    await a('AccessToken').upsert('at1', { jti: 'at1', grantId: 'g1' }, 3600);
    await a('AccessToken').upsert('at2', { jti: 'at2', grantId: 'g2' }, 3600);
    // Both processes read it unspent…
    expect(await a('RefreshToken').find('rt1')).not.toHaveProperty('consumed');
    expect(await b('RefreshToken').find('rt1')).not.toHaveProperty('consumed');
    // …one spends it, and the library of the other then sees it spent on its next read.
    await a('RefreshToken').consume('rt1');
    expect(await b('RefreshToken').find('rt1')).toMatchObject({ consumed: expect.any(Number) });
    // The other's mark comes too late: invalid_grant, and every token of the grant is gone.
    await expect(b('RefreshToken').consume('rt1')).rejects.toMatchObject({ error: 'invalid_grant', error_description: 'grant request is invalid' });
    expect(await a('RefreshToken').find('rt1')).toBeUndefined();
    expect(await a('AccessToken').find('at1')).toBeUndefined();
    expect(await a('AccessToken').find('at2')).toBeDefined();
  });

  it('a registered client is forgotten after 30 idle days; each use (at most hourly) moves that on', async () => {
    const { clock, a } = twoProcesses();
    await a('Client').upsert('c1', { client_id: 'c1', redirect_uris: ['http://127.0.0.1:9/cb'] });
    clock.advance(29 * 86_400_000);
    expect(await a('Client').find('c1')).toMatchObject({ client_id: 'c1' });
    clock.advance(29 * 86_400_000);
    expect(await a('Client').find('c1')).toMatchObject({ client_id: 'c1' });
    clock.advance(30 * 86_400_000);
    expect(await a('Client').find('c1')).toBeUndefined();
  });
});

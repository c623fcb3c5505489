/**
 * HubKeys: the keys requests read are loaded from the SecretStore once, at start, and then read from
 * memory; a read before the load is an error, never a silent store round trip or a random key.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { HubKeys, HubSecrets, type SecretStore } from '../../src/store/hub-secrets.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

function sqliteSecrets(): HubSecrets {
  const clock = manualClock();
  const db = openDb({ file: ':memory:', clock });
  return new HubSecrets(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
}

/** Counts what reaches the store. */
function counted(store: SecretStore): { store: SecretStore; asked: string[] } {
  const asked: string[] = [];
  const secret = (name: string, bytes?: number) => {
    asked.push(name);
    return store.secret(name, bytes);
  };
  return { asked, store: { secret } };
}

describe('HubKeys', () => {
  it('reads each key from the store once, however often it is loaded and read', async () => {
    const secrets = sqliteSecrets();
    const { store, asked } = counted(secrets);
    const keys = new HubKeys(store, ['link_signing_key', 'request_state_key']);
    await Promise.all([keys.load(), keys.load()]);
    await keys.load();
    for (let i = 0; i < 3; i++) expect(keys.get('link_signing_key').equals(await secrets.secret('link_signing_key'))).toBe(true);
    expect(keys.get('request_state_key')).toHaveLength(32);
    expect(keys.get('request_state_key').equals(keys.get('link_signing_key'))).toBe(false);
    expect(asked.sort()).toEqual(['link_signing_key', 'request_state_key']);
  });

  it('a key read before the load, or one it does not load, is an internal error', async () => {
    const keys = new HubKeys(sqliteSecrets(), ['link_signing_key']);
    expect(() => keys.get('link_signing_key')).toThrow(expect.objectContaining({ code: 'internal', message: expect.stringContaining('not loaded yet') }));
    await keys.load();
    expect(() => keys.get('other')).toThrow(expect.objectContaining({ code: 'internal', message: expect.stringContaining('not one of the keys') }));
  });

  it('two processes on one store load the same keys', async () => {
    const clock = manualClock();
    const db = openDb({ file: ':memory:', clock });
    const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock });
    const [a, b] = await Promise.all([
      HubKeys.open(new HubSecrets(db, vault, clock), ['link_signing_key']),
      HubKeys.open(new HubSecrets(db, vault, clock), ['link_signing_key']),
    ]);
    expect(a.get('link_signing_key').equals(b.get('link_signing_key'))).toBe(true);
  });
});

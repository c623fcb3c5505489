/**
 * A data key created by another process on the same store: the vault loads every data key once,
 * at open, so a key created afterwards elsewhere is read when first needed — once — and a key
 * that does not exist is still the typed error.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteDataKeys, type DataKeyStore } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { hubErrorOf, hubRejectionOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Counts the full reads of the store, to show a reload happens once and only when needed. */
function counted(store: DataKeyStore): { store: DataKeyStore; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    store: {
      all: () => {
        reads++;
        return store.all();
      },
      create: (k, now) => store.create(k, now),
      rewrap: (id, from, to, now) => store.rewrap(id, from, to, now),
    },
  };
}

/** Two vaults on two connections to one database file, sharing the master key as two processes on one data dir do. */
async function twoProcesses() {
  const dir = tmpDir('switchboard-vault2-');
  const file = join(dir.path, 'switchboard.db');
  const dbs: Db[] = [openDb({ file, clock }), openDb({ file, clock })];
  cleanup.push(() => dir.remove());
  for (const db of dbs) cleanup.push(() => void db.close());
  const ring = ephemeralRing();
  const a = counted(new SqliteDataKeys(dbs[0]!));
  const vaultA = new Vault({ keys: a.store, ring, clock });
  const vaultB = new Vault({ keys: new SqliteDataKeys(dbs[1]!), ring, clock });
  await Promise.all([vaultA.open(), vaultB.open()]);
  return { a: vaultA, b: vaultB, readsOfA: a.reads, db: dbs[0]! };
}

const scope = { tenant: 'acme', kind: 'token_set', id: 'conn_1' };

describe('a data key created by another process', () => {
  it('is read once, when a decrypt first meets it; a decrypt without the reload is the typed error', async () => {
    const { a, b, readsOfA } = await twoProcesses();
    await b.ensureDataKey('acme');
    const sealed = b.encrypt(scope, 'secret of acme');
    expect(hubErrorOf(() => a.decrypt(scope, sealed))).toMatchObject({ code: 'vault_decrypt_failed', details: scope });
    const before = readsOfA();
    expect((await a.decrypting(() => a.decrypt(scope, sealed))).toString()).toBe('secret of acme');
    expect(readsOfA() - before).toBe(1);
    // Loaded now: no further read, and the synchronous decrypt works too.
    expect((await a.decrypting(() => a.decryptString(scope, sealed))).toString()).toBe('secret of acme');
    expect(a.decryptString(scope, sealed)).toBe('secret of acme');
    expect(readsOfA() - before).toBe(1);
  });

  it('a key that exists nowhere fails with the typed error after one reload, not a loop', async () => {
    const { a, b, readsOfA } = await twoProcesses();
    await b.ensureDataKey('acme');
    const forged = b.encrypt(scope, 'x').replace(/^sbv1\.dk_[0-9a-f]+\./, 'sbv1.dk_0000000000000000.');
    const before = readsOfA();
    const err = await hubRejectionOf(a.decrypting(() => a.decrypt(scope, forged)));
    expect({ code: err.code, details: err.details }).toEqual({ code: 'vault_decrypt_failed', details: scope });
    expect(err.message).toContain('no data key dk_0000000000000000 for this tenant');
    expect(readsOfA() - before).toBe(1);
  });

  it('ensureDataKey adopts the tenant key the other process made: both seal under one data key', async () => {
    const { a, b, db } = await twoProcesses();
    await b.ensureDataKey('acme');
    await a.ensureDataKey('acme');
    const keyOf = (sealed: string) => sealed.split('.')[1];
    expect(keyOf(a.encrypt(scope, 'x'))).toBe(keyOf(b.encrypt(scope, 'y')));
    expect(b.decryptString(scope, a.encrypt(scope, 'from a'))).toBe('from a');
    expect(db.prepare("SELECT count(*) FROM vault_data_keys WHERE tenant_id = 'acme'").pluck().get()).toBe(1);
  });

  it('two processes sealing a new tenant first secret at once agree on one data key', async () => {
    const { a, b, db } = await twoProcesses();
    await Promise.all([a.ensureDataKey('beta'), b.ensureDataKey('beta'), a.ensureDataKey('beta')]);
    const s = { ...scope, tenant: 'beta' };
    expect(a.decryptString(s, b.encrypt(s, 'from b'))).toBe('from b');
    expect(b.decryptString(s, a.encrypt(s, 'from a'))).toBe('from a');
    expect(db.prepare("SELECT count(*) FROM vault_data_keys WHERE tenant_id = 'beta'").pluck().get()).toBe(1);
  });

  it('two hubs on one data dir: a tenant linked through one after both started is read by the other', async () => {
    const dir = tmpDir('switchboard-hubs2-');
    cleanup.push(() => dir.remove());
    const config = configSchema.parse({ integrations: {}, dataDir: dir.path, server: { port: 0 } });
    const first = new Hub({ config, log: silentLogger() });
    cleanup.push(() => first.stop());
    await first.start();
    const second = new Hub({ config, log: silentLogger() });
    cleanup.push(() => second.stop());
    await second.start();
    const tokens = { accessToken: 'at-newco', refreshToken: 'rt-newco', tokenType: 'Bearer' };
    const linked = await second.integrations.accounts.connections.link({ tenant: 'newco', user: 'ada', integration: 'acme', tokens, scopes: [] });
    const seen = await first.integrations.accounts.connections.get(linked.id);
    expect(seen).toMatchObject({ tenant: 'newco', user: 'ada', state: 'active' });
    expect(await first.integrations.accounts.connections.tokens(seen!)).toEqual(tokens);
  });
});

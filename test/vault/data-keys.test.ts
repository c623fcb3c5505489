import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { openVault } from '../../src/vault/open.js';
import { hubRejectionOf } from '../helpers/errors.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const TENANTS = ['acme', 'beta', 'gamma'];

/** A data dir whose store holds a secret, and so a data key, for each tenant. */
async function dataDir(): Promise<{ dir: string; db: Db; keyOf: (tenant: string) => string; reopen: () => ReturnType<typeof openVault> }> {
  const d = tmpDir('switchboard-datakeys-');
  dirs.push(d);
  const db = openDb({ file: join(d.path, 'switchboard.db'), clock });
  const vault = await openVault({ keys: new SqliteDataKeys(db), dataDir: d.path, clock, log: silentLogger(), env: {} });
  for (const t of TENANTS) await vault.ensureDataKey(t);
  for (const t of TENANTS) vault.encrypt({ tenant: t, kind: 'token_set', id: `conn_${t}` }, `secret of ${t}`);
  const keyOf = (tenant: string) => db.prepare('SELECT id FROM vault_data_keys WHERE tenant_id = ?').pluck().get(tenant) as string;
  return { dir: d.path, db, keyOf, reopen: () => openVault({ keys: new SqliteDataKeys(db), dataDir: d.path, clock, log: silentLogger(), env: {} }) };
}

function flipLastByte(db: Db, id: string): void {
  const wrapped = db.prepare('SELECT wrapped FROM vault_data_keys WHERE id = ?').pluck().get(id) as Buffer;
  wrapped[wrapped.length - 1]! ^= 1;
  db.prepare('UPDATE vault_data_keys SET wrapped = ? WHERE id = ?').run(wrapped, id);
}

describe('every data key is checked at start-up', () => {
  it('opens when every data key unwraps, and counts them', async () => {
    const { reopen } = await dataDir();
    expect(await (await reopen()).verify()).toBe(3);
  });

  it('one damaged data key among several, under the same master key, stops start-up naming it', async () => {
    const { db, keyOf, reopen } = await dataDir();
    // The middle one: a check of one key per master key would read another row and pass.
    flipLastByte(db, keyOf('beta'));
    const err = await hubRejectionOf(reopen());
    expect({ code: err.code, details: err.details }).toEqual({ code: 'vault_decrypt_failed', details: { dataKey: keyOf('beta'), tenant: 'beta' } });
    expect(err.message).toContain(`data key ${keyOf('beta')} of tenant beta does not unwrap`);
  });

  it('several damaged keys are all named in one error', async () => {
    const { db, keyOf, reopen } = await dataDir();
    flipLastByte(db, keyOf('acme'));
    flipLastByte(db, keyOf('gamma'));
    const err = await hubRejectionOf(reopen());
    expect(err.code).toBe('vault_decrypt_failed');
    expect(err.details).toEqual({ dataKeys: [keyOf('acme'), keyOf('gamma')] });
    expect(err.message).toMatch(/^2 problems with the 3 stored data keys: /);
  });

  it('a data key row of the wrong shape is a typed error naming it, not a validation crash', async () => {
    const { db, keyOf, reopen } = await dataDir();
    db.prepare("UPDATE vault_data_keys SET wrapped = 'not bytes' WHERE id = ?").run(keyOf('gamma'));
    const err = await hubRejectionOf(reopen());
    expect({ code: err.code, details: err.details }).toEqual({ code: 'vault_decrypt_failed', details: { dataKey: keyOf('gamma') } });
  });

  it('a tampered token set is a typed error for its owner only; the other user side by side still reads theirs', async () => {
    const { db, reopen } = await dataDir();
    const store = sqliteConnections(new ConnectionStore(db, await reopen(), clock));
    const tokens = { accessToken: 'at', refreshToken: 'rt', tokenType: 'Bearer' };
    const alice = await store.link({ tenant: 'acme', user: 'alice', integration: 'sandbox', tokens: { ...tokens, accessToken: 'alice-at' }, scopes: [] });
    const bob = await store.link({ tenant: 'acme', user: 'bob', integration: 'sandbox', tokens: { ...tokens, accessToken: 'bob-at' }, scopes: [] });
    const sealed = db.prepare('SELECT tokens FROM connections WHERE id = ?').pluck().get(alice.id) as string;
    const [prefix, key, body] = sealed.split('.');
    const bytes = Buffer.from(body!, 'base64');
    bytes[20]! ^= 1;
    db.prepare('UPDATE connections SET tokens = ? WHERE id = ?').run(`${prefix}.${key}.${bytes.toString('base64')}`, alice.id);
    const err = await hubRejectionOf(store.tokens(alice));
    expect({ code: err.code, details: err.details }).toEqual({ code: 'vault_decrypt_failed', details: { tenant: 'acme', kind: 'token_set', id: alice.id } });
    expect(err.message).not.toContain('alice-at');
    expect((await store.tokens(bob)).accessToken).toBe('bob-at');
  });

  it('doctor reports a damaged data key by name and fails', async () => {
    const { dir, db, keyOf } = await dataDir();
    const healthy = await runCli(['doctor', '--data', dir], dir);
    // The three tenants' keys and the one the hub's own secrets take on first start.
    expect(healthy.stderr + healthy.stdout).toContain('all 4 stored data key(s) open');
    const id = keyOf('beta');
    flipLastByte(db, id);
    db.close();
    const r = await runCli(['doctor', '--data', dir], dir);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain(`FAIL vault/integrations: data key ${id} of tenant beta does not unwrap`);
  }, 60_000);
});

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { MASTER_KEY_ENV, loadMasterKeys, masterKeyId, readKeyFile, writeKeyFile } from '../../src/vault/master-keys.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { openVault } from '../../src/vault/open.js';
import type { SecretScope, Vault } from '../../src/vault/vault.js';
import { hubRejectionOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const dirs: Array<{ remove: () => void }> = [];
async function setup(env: NodeJS.ProcessEnv = {}) {
  const dir = tmpDir('switchboard-vault-');
  dirs.push(dir);
  const file = join(dir.path, 'switchboard.db');
  const db = openDb({ file, clock });
  const vault = await openVault({ keys: new SqliteDataKeys(db), dataDir: dir.path, clock, log: silentLogger(), env });
  return { dir: dir.path, file, db, vault };
}

/** A tenant's first secret: its data key is ensured (awaited) before the synchronous encrypt. */
async function sealed(vault: Vault, s: SecretScope, plaintext: string): Promise<string> {
  await vault.ensureDataKey(s.tenant);
  return vault.encrypt(s, plaintext);
}
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HubError ? err.code : `not a HubError: ${String(err)}`;
  }
  return undefined;
}

const scope = { tenant: 'acme', kind: 'token_set', id: 'conn_1' };

describe('vault', () => {
  it('round-trips a secret and binds it to tenant, kind and record id', async () => {
    const { vault } = await setup();
    const value = await sealed(vault, scope, 'refresh-token-value');
    expect(vault.decryptString(scope, value)).toBe('refresh-token-value');
    expect(value).not.toContain('refresh-token-value');
    expect(code(() => vault.decrypt({ ...scope, id: 'conn_2' }, value))).toBe('vault_decrypt_failed');
    expect(code(() => vault.decrypt({ ...scope, kind: 'client_secret' }, value))).toBe('vault_decrypt_failed');
    expect(code(() => vault.decrypt({ ...scope, tenant: 'other' }, value))).toBe('vault_decrypt_failed');
    const bytes = Buffer.from(value.split('.')[2]!, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    const tampered = value.split('.').slice(0, 2).concat(bytes.toString('base64')).join('.');
    expect(code(() => vault.decrypt(scope, tampered))).toBe('vault_decrypt_failed');
  });

  it('a tenant first secret needs its data key ensured first: sealing without it is an internal error, never an unkeyed value', async () => {
    const { vault } = await setup();
    expect(code(() => vault.encrypt({ ...scope, tenant: 'new' }, 'x'))).toBe('internal');
    await vault.ensureDataKey('new');
    expect(vault.decryptString({ ...scope, tenant: 'new' }, vault.encrypt({ ...scope, tenant: 'new' }, 'x'))).toBe('x');
  });

  it('generates a 0600 key file when no key is configured, and never stores plaintext', async () => {
    const { dir, file, db, vault } = await setup();
    const keyFile = join(dir, 'master.key');
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const secret = `sk_live_${randomBytes(16).toString('hex')}`;
    await sealed(vault, scope, secret);
    db.close();
    const onDisk = Buffer.concat([readFileSync(file), existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : Buffer.alloc(0)]);
    expect(onDisk.includes(secret)).toBe(false);
  });

  it('uses SWITCHBOARD_MASTER_KEY and refuses to start with a wrong or missing key', async () => {
    const key = randomBytes(32).toString('base64');
    const { dir, db, vault } = await setup({ [MASTER_KEY_ENV]: key });
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
    const value = await sealed(vault, scope, 'x');
    const open = (env: NodeJS.ProcessEnv) => openVault({ keys: new SqliteDataKeys(db), dataDir: dir, clock, log: silentLogger(), env });
    expect((await open({ [MASTER_KEY_ENV]: key })).decryptString(scope, value)).toBe('x');
    expect((await hubRejectionOf(open({ [MASTER_KEY_ENV]: randomBytes(32).toString('base64') }))).code).toBe('vault_key_missing');
    // No env and no key file, but data exists: never silently start with a fresh, empty vault.
    expect((await hubRejectionOf(open({}))).code).toBe('vault_key_missing');
    expect((await hubRejectionOf(open({ [MASTER_KEY_ENV]: 'too-short' }))).code).toBe('vault_key_missing');
  });

  it('a deleted key file stops start-up instead of generating a new key', async () => {
    const { dir, db, vault } = await setup();
    await sealed(vault, scope, 'x');
    rmSync(join(dir, 'master.key'));
    const err = await hubRejectionOf(openVault({ keys: new SqliteDataKeys(db), dataDir: dir, clock, log: silentLogger(), env: {} }));
    expect(err.message).toMatch(/master\.key/);
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
  });

  it('re-wraps data keys under a new master key while an open vault keeps decrypting', async () => {
    const { dir, db, vault } = await setup();
    const values = await Promise.all(
      ['a', 'b', 'c'].map(async (t) => ({ s: { ...scope, tenant: t }, v: await sealed(vault, { ...scope, tenant: t }, `secret-${t}`) })),
    );
    const keyFile = join(dir, 'master.key');
    const old = readKeyFile(keyFile);
    // A second process rotates: new key first, then re-wrap.
    const db2 = openDb({ file: join(dir, 'switchboard.db'), clock });
    const rotating = await openVault({ keys: new SqliteDataKeys(db2), dataDir: dir, clock, log: silentLogger(), env: {} });
    const fresh = randomBytes(32);
    writeKeyFile(keyFile, [fresh, ...old.keys.map((k) => k.key)]);
    rotating.useRing({ ...readKeyFile(keyFile), generated: false });
    expect((await rotating.rewrap()).rewrapped).toBe(3);
    expect(await rotating.masterIdsInUse()).toEqual([masterKeyId(fresh)]);
    writeKeyFile(keyFile, [fresh]);
    // The long-running vault has its data keys cached and keeps working.
    for (const { s, v } of values) expect(vault.decryptString(s, v)).toBe(`secret-${s.tenant}`);
    // A fresh process sees only the new key and still decrypts everything.
    const reopened = await openVault({
      keys: new SqliteDataKeys(openDb({ file: join(dir, 'switchboard.db'), clock })),
      dataDir: dir,
      clock,
      log: silentLogger(),
      env: {},
    });
    for (const { s, v } of values) expect(reopened.decryptString(s, v)).toBe(`secret-${s.tenant}`);
    db2.close();
    db.close();
  });

  it('a process that finds the key file created meanwhile adopts it instead of writing its own', () => {
    const dir = tmpDir('switchboard-vault-');
    dirs.push(dir);
    const first = loadMasterKeys({ env: {}, dataDir: dir.path, mayGenerate: true });
    const second = loadMasterKeys({ env: {}, dataDir: dir.path, mayGenerate: true });
    expect(first.generated).toBe(true);
    expect(second.generated).toBe(false);
    expect(second.active.id).toBe(first.active.id);
    expect(readKeyFile(join(dir.path, 'master.key')).active.id).toBe(first.active.id);
  });

  it('a master key path that is a directory is named in the error, not a bare EISDIR', () => {
    const dir = tmpDir('switchboard-vault-');
    dirs.push(dir);
    mkdirSync(join(dir.path, 'master.key'));
    expect(() => loadMasterKeys({ env: {}, dataDir: dir.path, mayGenerate: true })).toThrow(
      expect.objectContaining({ code: 'vault_key_missing', message: expect.stringContaining(`${join(dir.path, 'master.key')} (EISDIR)`) }),
    );
  });
});

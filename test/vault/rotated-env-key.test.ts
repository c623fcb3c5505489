/**
 * `SWITCHBOARD_MASTER_KEY=NEW,OLD switchboard keys rotate` while a hub given OLD keeps running: the
 * running hub, which cannot learn NEW, refuses to wrap a new tenant's data key under OLD (the store
 * now records keys under NEW) instead of leaving a key that will not open once OLD is dropped, and
 * the command says such hubs must be restarted with the new value first. With a key file, which a
 * running hub re-reads, a new tenant's key is wrapped under the new key.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { MASTER_KEY_ENV, masterKeyId, readKeyFile } from '../../src/vault/master-keys.js';
import { openVault } from '../../src/vault/open.js';
import type { Vault } from '../../src/vault/vault.js';
import { runCliEnv } from '../cli/run-env.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const scope = (tenant: string) => ({ tenant, kind: 'token_set', id: 'conn_1' });

/** A data dir whose store exists (made by the CLI), and a vault on it opened as a running hub opens its own. */
async function runningHub(
  env: Record<string, string>,
): Promise<{ data: string; cli: (args: string[], env: Record<string, string>) => ReturnType<typeof runCliEnv>; vault: Vault; existing: string }> {
  const dir = tmpDir('switchboard-rotate-env-');
  dirs.push(dir);
  const data = join(dir.path, 'data');
  const cli = (args: string[], e: Record<string, string>) => runCliEnv([...args, '--data', data], dir.path, { [MASTER_KEY_ENV]: '', ...e });
  const made = await cli(['tokens', 'create', '--user', 'alice'], env);
  expect(made.code, made.stderr).toBe(0);
  const db = openDb({ file: join(data, 'switchboard.db'), clock });
  const vault = await openVault({ keys: new SqliteDataKeys(db), dataDir: data, clock, log: silentLogger(), env });
  await vault.ensureDataKey('default');
  return { data, cli, vault, existing: vault.encrypt(scope('default'), 'alice-token') };
}

describe('keys rotate while a hub runs', () => {
  it('SWITCHBOARD_MASTER_KEY: the running hub refuses a data key under the retired key; the store opens with the new key alone', async () => {
    const [OLD, NEW] = [randomBytes(32), randomBytes(32)].map((k) => k.toString('base64')) as [string, string];
    const { cli, vault, existing } = await runningHub({ [MASTER_KEY_ENV]: OLD });

    const rotate = await cli(['keys', 'rotate'], { [MASTER_KEY_ENV]: `${NEW},${OLD}` });
    expect(rotate.code, rotate.stderr).toBe(0);
    const [newId, oldId] = [masterKeyId(Buffer.from(NEW, 'base64')), masterKeyId(Buffer.from(OLD, 'base64'))];
    expect(rotate.stdout).toBe(
      `1 data key(s) re-wrapped under ${newId}.\n` +
        `Nothing uses an older key now. Hubs already running were given the old ${MASTER_KEY_ENV}: restart each with the new value before you drop the old key ` +
        `(until then they refuse to create data keys for new tenants); ${MASTER_KEY_ENV} can then hold the new key alone.\n`,
    );

    // A user of a new tenant arrives at the running hub: refused, nothing stored under OLD.
    await expect(vault.ensureDataKey('other')).rejects.toMatchObject({
      code: 'vault_key_missing',
      message:
        `the master key was rotated: stored data keys are wrapped under master key ${newId}, which this hub was not given (it has ${oldId}); ` +
        `no data key is created under the retired key ${oldId}. Restart the hub with ${MASTER_KEY_ENV} set to the new key`,
    });
    // The tenants it already serves go on as before.
    expect(vault.decryptString(scope('default'), existing)).toBe('alice-token');
    expect(vault.decryptString(scope('default'), vault.encrypt(scope('default'), 'renewed'))).toBe('renewed');

    // With the new key alone, as the command advises once hubs are restarted, the store opens.
    const after = await cli(['connections', 'list', '--all'], { [MASTER_KEY_ENV]: NEW });
    expect(after.code, after.stderr).toBe(0);
  });

  it('key file: the running hub re-reads it and wraps a new tenant key under the new master key', async () => {
    const { data, cli, vault } = await runningHub({});
    const rotate = await cli(['keys', 'rotate'], {});
    expect(rotate.code, rotate.stderr).toBe(0);
    await vault.ensureDataKey('other');
    expect(vault.decryptString(scope('other'), vault.encrypt(scope('other'), 'bob-token'))).toBe('bob-token');
    const ring = readKeyFile(join(data, 'master.key'));
    expect(ring.keys.map((k) => k.id)).toEqual([ring.active.id]);
    expect([...new Set(await vault.masterIdsInUse())]).toEqual([ring.active.id]);
    const after = await cli(['connections', 'list', '--all'], {});
    expect(after.code, after.stderr).toBe(0);
  });
});

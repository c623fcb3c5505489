/**
 * Two `switchboard keys rotate` started together on one data dir (a cron job and a person): each
 * read master.key, wrote its own ring and pruned from its own snapshot, so one could drop the key
 * the other had just re-wrapped every data key under — and every sealed secret was lost. One
 * rotation now holds master.key.lock from start to end; the other fails with store_failed and
 * changes nothing, and a lock left by a process that is gone is taken over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type Db, openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { MASTER_KEY_ENV, readKeyFile } from '../../src/vault/master-keys.js';
import { openVault } from '../../src/vault/open.js';
import type { Vault } from '../../src/vault/vault.js';
import { runCliEnv } from '../cli/run-env.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock();
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

const scope = (tenant: string) => ({ tenant, kind: 'token_set', id: 'conn_1' });
const noEnvKey = { [MASTER_KEY_ENV]: '' };

/** A data dir with a store, and a vault on it opened as a running hub opens its own. */
async function hubOnDataDir(): Promise<{ data: string; rotate: () => ReturnType<typeof runCliEnv>; vault: Vault; sealed: string; open: () => Promise<Vault> }> {
  const dir = tmpDir('switchboard-rotate-race-');
  cleanup.push(() => dir.remove());
  const data = join(dir.path, 'data');
  const made = await runCliEnv(['tokens', 'create', '--user', 'alice', '--data', data], dir.path, noEnvKey);
  expect(made.code, made.stderr).toBe(0);
  const open = async (): Promise<Vault> => {
    const db: Db = openDb({ file: join(data, 'switchboard.db'), clock });
    cleanup.push(() => void db.close());
    return openVault({ keys: new SqliteDataKeys(db), dataDir: data, clock, log: silentLogger(), env: noEnvKey });
  };
  const vault = await open();
  await vault.ensureDataKey('default');
  const sealed = vault.encrypt(scope('default'), 'alice-token');
  return { data, vault, sealed, open, rotate: () => runCliEnv(['keys', 'rotate', '--data', data], dir.path, noEnvKey) };
}

describe('two keys rotate at once', () => {
  it('(three, here) leave a key file that opens every data key, every time; the running hub keeps working', async () => {
    const hub = await hubOnDataDir();
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([hub.rotate(), hub.rotate(), hub.rotate()]);
      expect(results.some((r) => r.code === 0)).toBe(true);
      for (const r of results) {
        if (r.code === 0) continue;
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`switchboard: error (store_failed): keys rotate: another rotation holds ${join(hub.data, 'master.key.lock')}`);
      }
      // A process started now opens the store with the key file alone and reads the old secret.
      const fresh = await hub.open();
      expect(fresh.decryptString(scope('default'), hub.sealed)).toBe('alice-token');
      const ring = readKeyFile(join(hub.data, 'master.key'));
      expect(ring.keys.map((k) => k.id)).toEqual([ring.active.id]);
      expect(await fresh.masterIdsInUse()).toEqual([ring.active.id]);
      // The hub that ran throughout still reads its secrets and wraps a new tenant's key under the key on file.
      expect(hub.vault.decryptString(scope('default'), hub.sealed)).toBe('alice-token');
      await hub.vault.ensureDataKey(`tenant${round}`);
      expect(await fresh.masterIdsInUse()).toEqual([ring.active.id]);
      expect(existsSync(join(hub.data, 'master.key.lock'))).toBe(false);
    }
  }, 120_000);

  it('a rotation that holds the lock makes another fail and change nothing', async () => {
    const hub = await hubOnDataDir();
    const lock = join(hub.data, 'master.key.lock');
    // This test process is alive: its lock is a rotation in progress.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: null, host: hostname(), since: '2026-01-01T00:00:00.000Z', nonce: 'held' }));
    const before = readFileSync(join(hub.data, 'master.key'), 'utf8');
    const r = await hub.rotate();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `switchboard: error (store_failed): keys rotate: another rotation holds ${lock} (process ${process.pid} on ${hostname()}, since 2026-01-01T00:00:00.000Z); nothing was changed.`,
    );
    expect(readFileSync(join(hub.data, 'master.key'), 'utf8')).toBe(before);
    expect(existsSync(lock)).toBe(true);
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const hub = await hubOnDataDir();
    const lock = join(hub.data, 'master.key.lock');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, JSON.stringify({ pid: Number(gone.stdout), start: null, host: hostname(), since: '2026-01-01T00:00:00.000Z', nonce: 'dead' }));
    const r = await hub.rotate();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Rotated: 1 data key\(s\) re-wrapped under mk_\w+; 1 old key\(s\) removed/);
    expect(existsSync(lock)).toBe(false);
    expect((await hub.open()).decryptString(scope('default'), hub.sealed)).toBe('alice-token');
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { HubError } from '../../src/errors.js';
import { storeChoice } from '../../src/store/choice.js';
import { MASTER_KEY_ENV, readKeyFile, writeKeyFile } from '../../src/vault/master-keys.js';
import { takeRotationLock } from '../../src/vault/rotation-lock.js';
import { commandLogger, configFromFlags, parse, progress } from '../common.js';
import { openDataDirStore } from '../store-context.js';

const USAGE = `usage: switchboard keys rotate

With the master key in <data>/master.key: generates a new master key, re-wraps every data key
under it (online: running hubs keep working), and drops old keys nothing uses any more.
With ${MASTER_KEY_ENV}: set it to "NEW,OLD" (base64 keys, newest first), run this, then drop OLD.`;

export async function keysCommand(argv: string[]): Promise<void> {
  // --user, common to every command, is taken and changes nothing: the master key is every user's.
  const { flags } = parse(argv, {}, { command: 'keys', usage: USAGE, takes: { rotate: 0 }, flags: { rotate: ['user'] } });
  if (flags['help']) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { config } = configFromFlags(flags, { makeNothing: true });
  const env = process.env[MASTER_KEY_ENV];
  const withFile = env === undefined || env.trim() === '';
  // On PostgreSQL every replica reads the data keys with its own copy of the master keys: a new
  // key in this data dir's file alone would leave the others unable to open what it re-wraps (a
  // running replica fails a new tenant's link; stopped, it no longer starts). Refused before anything is made or changed.
  if (withFile && storeChoice(config).kind === 'postgres') {
    throw new HubError(
      'invalid_params',
      `keys rotate: this store is PostgreSQL, shared by every replica, and the new key would be in ${resolve(config.dataDir, 'master.key')} alone. ` +
        `Rotate with ${MASTER_KEY_ENV} instead: give every replica "NEW,OLD" (newest first) and restart each, run this command with the same value, then give them NEW alone`,
    );
  }
  // One key in the variable leaves nothing to rotate to: every data key it can open is wrapped by
  // it already. Said before anything is opened, where it re-wrapped none and told to restart hubs.
  if (!withFile && env.split(',').filter((k) => k.trim() !== '').length === 1) {
    throw new HubError(
      'invalid_params',
      `keys rotate: ${MASTER_KEY_ENV} holds one key, so there is nothing to rotate to. Set it to "NEW,OLD" ` +
        '(a new key, e.g. `openssl rand -base64 32`, then the current one), run this command with that value, then give the hubs NEW alone',
    );
  }
  // Held from before the store's vault reads master.key to the last prune: a second rotation fails
  // here, changing nothing. No data dir: opening the store below says so (store_not_found).
  const lock = withFile && existsSync(config.dataDir) ? takeRotationLock(config.dataDir) : undefined;
  let store: Awaited<ReturnType<typeof openDataDirStore>>;
  try {
    store = await openDataDirStore(config, commandLogger(), { existing: true });
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    const { vault } = store;
    const report = (done: number, total: number) => progress(`re-wrapped ${done}/${total} data keys`);
    if (!withFile) {
      const { rewrapped } = await vault.rewrap(report);
      process.stdout.write(`${rewrapped} data key(s) re-wrapped under ${vault.activeMasterId}.\n`);
      if ((await vault.masterIdsInUse()).every((id) => id === vault.activeMasterId)) {
        // A running hub keeps the value it was started with: until restarted it can create no new tenant's data key (src/vault/vault.ts).
        process.stdout.write(
          `Nothing uses an older key now. Hubs already running were given the old ${MASTER_KEY_ENV}: restart each with the new value before you drop the old key ` +
            `(until then they refuse to create data keys for new tenants); ${MASTER_KEY_ENV} can then hold the new key alone.\n`,
        );
      }
      return;
    }
    const file = resolve(config.dataDir, 'master.key');
    const current = readKeyFile(file);
    const fresh = randomBytes(32);
    // Newest first, old keys kept until nothing needs them: a crash mid-way leaves a usable file.
    writeKeyFile(file, [fresh, ...current.keys.map((k) => k.key)]);
    vault.useRing({ ...readKeyFile(file), generated: false });
    progress(`new master key ${vault.activeMasterId}`);
    const { rewrapped } = await vault.rewrap(report);
    const ring = readKeyFile(file);
    // What is in use is read just before the file is written, so no key a stored data key needs is dropped.
    const inUse = new Set(await vault.masterIdsInUse());
    let keep = ring.keys.filter((k, i) => i === 0 || inUse.has(k.id));
    writeKeyFile(
      file,
      keep.map((k) => k.key),
    );
    // A running hub re-reads the key file before it creates a data key, but one that read the
    // old file a moment before may have wrapped a key with a retired master key: this vault still
    // holds the retired keys, so re-wrap whatever appeared meanwhile.
    const late = (await vault.rewrap()).rewrapped;
    if (late > 0) progress(`re-wrapped ${late} data key(s) created during the rotation`);
    // Should a data key still be wrapped under a dropped key (one created after the re-wrap above), that key goes back on file.
    const stillUsed = new Set(await vault.masterIdsInUse());
    const restore = ring.keys.filter((k) => stillUsed.has(k.id) && !keep.some((kept) => kept.id === k.id));
    if (restore.length > 0) {
      keep = [...keep, ...restore];
      writeKeyFile(
        file,
        keep.map((k) => k.key),
      );
      progress(`kept ${restore.length} old key(s) still in use: run keys rotate again to drop them`);
    }
    process.stdout.write(
      `Rotated: ${rewrapped} data key(s) re-wrapped under ${vault.activeMasterId}; ${ring.keys.length - keep.length} old key(s) removed from ${file}.\n`,
    );
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw new HubError('internal', `key rotation failed: ${(err as Error).message}`, { cause: err });
  } finally {
    lock?.release();
    await store.close();
  }
}

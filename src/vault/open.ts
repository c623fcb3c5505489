import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DataKeyStore } from './data-keys.js';
import { MASTER_KEY_ENV, ephemeralRing, loadMasterKeys, readKeyFile, type MasterKeyRing } from './master-keys.js';
import { Vault } from './vault.js';

export interface OpenVaultOptions {
  /** Where the wrapped data keys are: the store's (`HubStore.dataKeys`). */
  keys: DataKeyStore;
  dataDir: string;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * The vault of a data dir, not yet open: `open()` (the hub's 'vault' part) loads the master keys
 * and checks them against every stored data key before anything else runs, so a wrong or missing
 * key stops start-up with a message that says so instead of an empty-looking vault.
 */
export function createVault(opts: OpenVaultOptions): Vault {
  const env = opts.env ?? process.env;
  let loaded: MasterKeyRing | undefined;
  const ring = (storeHasDataKeys: boolean): MasterKeyRing => {
    loaded = loadMasterKeys({ env, dataDir: opts.dataDir, mayGenerate: !storeHasDataKeys });
    if (loaded.generated) {
      opts.log.warn({ file: loaded.file }, `generated a master key file; back it up, or set ${MASTER_KEY_ENV} (base64, 32 bytes) instead`);
    } else if (loaded.file && (statSync(loaded.file).mode & 0o077) !== 0) {
      opts.log.warn({ file: loaded.file }, 'the master key file is readable by other users; chmod 600 it');
    }
    return loaded;
  };
  // Keys from the environment are fixed for the process; a key file may be rotated by another one.
  const reload = (): MasterKeyRing => {
    const file = loaded?.file;
    return file === undefined ? (loaded ?? ring(true)) : { ...readKeyFile(file), generated: false };
  };
  return new Vault({ keys: opts.keys, ring, clock: opts.clock, reload });
}

/** The vault of a data dir, opened: for commands that use it without starting a hub. */
export async function openVault(opts: OpenVaultOptions): Promise<Vault> {
  const vault = createVault(opts);
  await vault.open();
  return vault;
}

/**
 * The vault a hub on `dataDir` uses, built on its store's data keys: the data dir's master keys (or
 * the environment's), or an ephemeral ring for an in-memory hub. The hub opens its own store with
 * it; the opener of a store handed to the hub (`HubOptions.store`) uses it too.
 */
export function hubVault(o: Omit<OpenVaultOptions, 'keys'>): (keys: DataKeyStore) => Vault {
  return (keys) => (o.dataDir === ':memory:' ? new Vault({ keys, ring: ephemeralRing(), clock: o.clock }) : createVault({ ...o, keys }));
}

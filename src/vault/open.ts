import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import { MASTER_KEY_ENV, loadMasterKeys, readKeyFile, type MasterKeyRing } from './master-keys.js';
import { Vault } from './vault.js';

export interface OpenVaultOptions {
  db: Db;
  dataDir: string;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the master keys and checks them against the store before anything else runs: a wrong or
 * missing key stops start-up with a message that says so, instead of an empty-looking vault.
 */
export function openVault(opts: OpenVaultOptions): Vault {
  const env = opts.env ?? process.env;
  const hasData = (opts.db.prepare('SELECT count(*) FROM vault_data_keys').pluck().get() as number) > 0;
  const ring = loadMasterKeys({ env, dataDir: opts.dataDir, mayGenerate: !hasData });
  if (ring.generated) {
    opts.log.warn({ file: ring.file }, `generated a master key file; back it up, or set ${MASTER_KEY_ENV} (base64, 32 bytes) instead`);
  } else if (ring.file && (statSync(ring.file).mode & 0o077) !== 0) {
    opts.log.warn({ file: ring.file }, 'the master key file is readable by other users; chmod 600 it');
  }
  const file = ring.file;
  const reload = file === undefined ? undefined : (): MasterKeyRing => ({ ...readKeyFile(file), generated: false });
  const vault = new Vault({ db: opts.db, ring, clock: opts.clock, ...(reload ? { reload } : {}) });
  vault.verify();
  return vault;
}

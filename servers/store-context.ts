import { resolve } from 'node:path';
import { systemClock } from '../src/clock.js';
import { publicUrlOf, urlNotYetKnown } from '../src/config/public-url.js';
import type { HubConfig } from '../src/config/schema.js';
import { openIntegrations, type Integrations } from '../src/integrations/wiring.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { openDb, type Db } from '../src/store/db.js';
import { openVault } from '../src/vault/open.js';
import type { Vault } from '../src/vault/vault.js';
import { configFromFlags, type Flags } from './common.js';
import { hostedSandbox } from './sandbox/hosted.js';

export interface StoreContext {
  config: HubConfig;
  db: Db;
  vault: Vault;
  integrations: Integrations;
  /** Where a hub on this config is reached; undefined when `server.port` is 0 (the OS picks it when a hub listens). */
  publicUrl: string | undefined;
  close(): void;
}

/** What the account commands need without starting a hub: the store, the vault and the integrations with their keys loaded. */
export function openStoreContext(flags: Flags): Promise<StoreContext> {
  return openStore(configFromFlags(flags).config);
}

export async function openStore(config: HubConfig, log: Logger = createLogger({ level: 'warn' })): Promise<StoreContext> {
  const db = openDb({ file: resolve(config.dataDir, 'switchboard.db'), clock: systemClock });
  try {
    const vault = await openVault({ db, dataDir: config.dataDir, clock: systemClock, log });
    const publicUrl = publicUrlOf(config.server);
    // The hosted sandbox's client is the hub's own: revoking a sandbox account needs its secret.
    const url = () => {
      if (publicUrl === undefined) throw urlNotYetKnown();
      return publicUrl;
    };
    const integrations = await openIntegrations({
      config,
      db,
      vault,
      clock: systemClock,
      log,
      publicUrl: url,
      dataDir: config.dataDir,
      hosted: [hostedSandbox()],
    });
    return { config, db, vault, integrations, publicUrl, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

import { resolve } from 'node:path';
import { systemClock } from '../src/clock.js';
import { publicUrlOf, urlNotYetKnown } from '../src/config/public-url.js';
import type { HubConfig } from '../src/config/schema.js';
import { openIntegrations, type Integrations } from '../src/integrations/wiring.js';
import type { Logger } from '../src/observability/logger.js';
import { openSqliteStore, type HubStore } from '../src/store/bundle.js';
import { storeChoice } from '../src/store/choice.js';
import { requireExistingPgStore, requireExistingStore } from '../src/store/existing.js';
import { createVault } from '../src/vault/open.js';
import type { Vault } from '../src/vault/vault.js';
import { commandLogger, configFromFlags, type Flags } from './common.js';
import { hostedSandbox } from './sandbox/hosted.js';

export interface StoreContext {
  config: HubConfig;
  store: HubStore;
  vault: Vault;
  integrations: Integrations;
  /** Where a hub on this config is reached; undefined when `server.port` is 0 (the OS picks it when a hub listens). */
  publicUrl: string | undefined;
  /** Points the links made from now on at `url`: where a hub serving this store was found (servers/hub-at.ts). */
  useUrl(url: string): void;
  close(): void;
}

/** What the account commands need without starting a hub: the store, the vault and the integrations with their keys loaded. */
export function openStoreContext(flags: Flags, opts: OpenOptions = {}): Promise<StoreContext> {
  return openStore(configFromFlags(flags, { makeNothing: opts.existing === true }).config, undefined, opts);
}

export interface OpenOptions {
  /** Refuse a data dir with no store yet (`store_not_found`), creating nothing: for a command that only reads or removes. */
  existing?: boolean;
}

/**
 * The store the config names (`storeChoice`, as the hub picks it: `store.url`, DATABASE_URL, else
 * SQLite in the data dir), migrated, its vault built but not opened: for a command that reads no
 * sealed value and so needs no master key. A command's moment needs no checkpoint thread and a
 * pool of one or two connections.
 */
export async function openConfiguredStore(config: HubConfig, log: Logger, opts: OpenOptions = {}): Promise<HubStore> {
  if (opts.existing) requireExistingStore(config);
  const vault = (keys: Parameters<typeof createVault>[0]['keys']) => createVault({ keys, dataDir: config.dataDir, clock: systemClock, log });
  const choice = storeChoice(config);
  if (choice.kind === 'postgres') {
    // Loaded on demand: the driver would add half a second to every command on SQLite.
    const { openPostgresStore } = await import('../src/store/pg-bundle.js');
    const store = await openPostgresStore({ url: choice.url, clock: systemClock, log, vault, max: 2, migrate: opts.existing !== true });
    if (opts.existing !== true) return store;
    try {
      await requireExistingPgStore(store);
      await store.migrate();
      return store;
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return openSqliteStore({ file: resolve(config.dataDir, 'switchboard.db'), clock: systemClock, log, checkpoints: false, vault });
}

/**
 * The configured store with its vault open (every data key unwrapped, a wrong master key an error
 * that says so), for a command that needs no hub.
 */
export async function openDataDirStore(config: HubConfig, log: Logger, opts: OpenOptions = {}): Promise<HubStore> {
  const store = await openConfiguredStore(config, log, opts);
  try {
    await store.vault.open();
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}

export async function openStore(config: HubConfig, log: Logger = commandLogger(), opts: OpenOptions = {}): Promise<StoreContext> {
  const store = await openDataDirStore(config, log, opts);
  try {
    const { vault } = store;
    let publicUrl = publicUrlOf(config.server);
    // The hosted sandbox's client is the hub's own: revoking a sandbox account needs its secret.
    const url = () => {
      if (publicUrl === undefined) throw urlNotYetKnown();
      return publicUrl;
    };
    const integrations = await openIntegrations({
      config,
      store,
      vault,
      clock: systemClock,
      log,
      publicUrl: url,
      dataDir: config.dataDir,
      hosted: [hostedSandbox()],
    });
    return {
      config,
      store,
      vault,
      integrations,
      get publicUrl() {
        return publicUrl;
      },
      useUrl: (url) => {
        publicUrl = url;
      },
      close: () => void store.close(),
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

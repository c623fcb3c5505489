import { Grants, type GrantView } from '../../src/auth/grants.js';
import { systemClock } from '../../src/clock.js';
import type { HubConfig } from '../../src/config/schema.js';
import type { HubStore } from '../../src/store/bundle.js';
import type { Vault } from '../../src/vault/vault.js';
import { commandLogger } from '../common.js';
import { openDataDirStore, type OpenOptions } from '../store-context.js';

export interface AsStore {
  store: HubStore;
  vault: Vault;
  grants: Grants;
  close(): void;
}

/**
 * The authorization server's records of a data dir, for the CLI: the store and the vault (its
 * records are sealed), without the library (oidc-provider) or the integrations.
 */
export async function openAsStore(config: HubConfig, opts: OpenOptions = {}): Promise<AsStore> {
  const store = await openDataDirStore(config, commandLogger(), opts);
  const { vault } = store;
  return { store, vault, grants: new Grants({ records: store.asRecords, vault, clock: systemClock }), close: () => void store.close() };
}

const iso = (ms: number | undefined) => (ms === undefined ? 'never' : new Date(ms).toISOString());

/** One line per grant, as `clients list` and `tokens list` print them. */
export function grantLine(g: GrantView): string {
  const how = g.signedInWith === undefined ? '' : g.signedInWith.via === 'token' ? `  via=${g.signedInWith.tokenId}` : `  via=${g.signedInWith.via}`;
  const name = g.clientName === undefined ? '' : `  "${g.clientName}"`;
  return `${g.grantId}  ${g.tenant}/${g.user}  client=${g.clientId}${name}  scopes=${g.scopes.join(',')}  created=${iso(g.createdAt)}  last-used=${iso(g.lastUsedAt)}${how}`;
}

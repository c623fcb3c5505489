import { resolve } from 'node:path';
import { Grants, type GrantView } from '../../src/auth/grants.js';
import { SqliteAsRecords } from '../../src/auth/records.js';
import { systemClock } from '../../src/clock.js';
import type { HubConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { openVault } from '../../src/vault/open.js';
import type { Vault } from '../../src/vault/vault.js';

export interface AsStore {
  db: Db;
  vault: Vault;
  grants: Grants;
  close(): void;
}

/**
 * The authorization server's records of a data dir, for the CLI: the store and the vault (its
 * records are sealed), without the library (oidc-provider) or the integrations.
 */
export async function openAsStore(config: HubConfig): Promise<AsStore> {
  const db = openDb({ file: resolve(config.dataDir, 'switchboard.db'), clock: systemClock });
  try {
    const vault = await openVault({ db, dataDir: config.dataDir, clock: systemClock, log: createLogger({ level: 'warn' }) });
    return { db, vault, grants: new Grants({ records: new SqliteAsRecords(db), vault, clock: systemClock }), close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? 'never' : new Date(ms).toISOString());

/** One line per grant, as `clients list` and `tokens list` print them. */
export function grantLine(g: GrantView): string {
  const how = g.signedInWith === undefined ? '' : g.signedInWith.via === 'token' ? `  via=${g.signedInWith.tokenId}` : `  via=${g.signedInWith.via}`;
  const name = g.clientName === undefined ? '' : `  "${g.clientName}"`;
  return `${g.grantId}  ${g.tenant}/${g.user}  client=${g.clientId}${name}  scopes=${g.scopes.join(',')}  created=${iso(g.createdAt)}  last-used=${iso(g.lastUsedAt)}${how}`;
}

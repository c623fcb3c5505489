import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import type { Vault } from '../vault/vault.js';
import type { SecretStore } from './hub-secrets.js';
import type { Queryable } from './pg/pool.js';

const HUB_TENANT = '_hub';
const sealedRow = z.object({ value: z.string() });

/**
 * The hub's named secrets in PostgreSQL, sealed by the vault like the SQLite HubSecrets: replicas
 * creating one at once agree on the first committed, since every replica must sign and verify
 * with the same key.
 */
export class PgHubSecrets implements SecretStore {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Queryable,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  async secret(name: string, bytes = 32): Promise<Buffer> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const scope = { tenant: HUB_TENANT, kind: 'hub_secret', id: name };
    const select = () => this.db.maybeOne('SELECT value FROM hub_secrets WHERE name = $1', [name], (r) => sealedRow.parse(r).value);
    let sealed = await select();
    if (sealed === undefined) {
      await this.vault.ensureDataKey(HUB_TENANT);
      const value = this.vault.encrypt(scope, randomBytes(bytes));
      // The loser of a race inserts nothing and reads the winner's value in the next statement.
      const inserted = await this.db.maybeOne(
        'INSERT INTO hub_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING value',
        [name, value, this.clock.now()],
        (r) => sealedRow.parse(r).value,
      );
      sealed = inserted ?? (await select());
    }
    // Nothing deletes hub secrets: a row missing right after ON CONFLICT is a store that lost it.
    if (sealed === undefined) throw new HubError('store_failed', `hub secret ${name} is missing right after it was created`);
    const found = sealed;
    // Sealed by another replica under a data key this one may not have loaded yet.
    const secret = await this.vault.decrypting(() => this.vault.decrypt(scope, found));
    this.cache.set(name, secret);
    return secret;
  }
}

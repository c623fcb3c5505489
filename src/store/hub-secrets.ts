import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Vault } from '../vault/vault.js';
import type { Db } from './db.js';

const HUB_TENANT = '_hub';

/** Named hub secrets behind a Promise-based interface, so another store (PostgreSQL) can keep them. */
export interface SecretStore {
  /** The secret called `name`, created on first use; two processes creating it at once agree on one. */
  secret(name: string, bytes?: number): Promise<Buffer>;
}

/**
 * Named random secrets the hub itself needs (link signing key, hosted providers' client secrets),
 * sealed by the vault. `get` stays synchronous for the keys read while the hub is constructed.
 */
export class HubSecrets implements SecretStore {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  async secret(name: string, bytes = 32): Promise<Buffer> {
    return this.get(name, bytes);
  }

  /** The secret called `name`, created on first use; two processes creating it at once agree on one. */
  get(name: string, bytes = 32): Buffer {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const scope = { tenant: HUB_TENANT, kind: 'hub_secret', id: name };
    const select = this.db.prepare('SELECT value FROM hub_secrets WHERE name = ?').pluck();
    let sealed = select.get(name) as string | undefined;
    if (sealed === undefined) {
      const value = this.vault.encrypt(scope, randomBytes(bytes));
      this.db.prepare('INSERT INTO hub_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, value, this.clock.now());
      sealed = select.get(name) as string;
    }
    const secret = this.vault.decrypt(scope, sealed);
    this.cache.set(name, secret);
    return secret;
  }
}

import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Vault } from '../vault/vault.js';
import type { Db } from './db.js';

const HUB_TENANT = '_hub';

/** Named random secrets the hub itself needs (link signing key, sandbox client secret), sealed by the vault. */
export class HubSecrets {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

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

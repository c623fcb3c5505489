import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import { toConnection, type ConnectionStore } from './store.js';
import type { Connection } from './types.js';

/** What the webhook route needs of connections: find the one a delivery is for, and its own secret. */
export interface ConnectionWebhooks {
  /** The live (not revoked) connection behind `/webhooks/<integration>/<endpoint>`. */
  byEndpoint(integration: string, endpoint: string): Promise<Connection | undefined>;
  /** The live connections linked to this provider account, oldest first. */
  byAccount(integration: string, accountId: string): Promise<Connection[]>;
  /** The connection's endpoint id, made now if it has none; undefined when it is not live. */
  ensureEndpoint(id: string): Promise<string | undefined>;
  /**
   * Sets (or with null, removes) the connection's own webhook secret, sealed by the vault; a
   * connection given a secret gets an endpoint too, since only its endpoint is verified with it.
   */
  setWebhookSecret(id: string, secret: string | null): Promise<Connection | undefined>;
  /** The connection's own webhook secret, decrypted; undefined when it has none. */
  webhookSecret(c: Connection): Promise<string | undefined>;
}

/** 18 random bytes: 144 bits, so an endpoint id cannot be guessed; base64url fits a URL segment. */
export function newEndpointId(): string {
  return `wh_${randomBytes(18).toString('base64url')}`;
}

const scope = (c: { tenant: string; id: string }) => ({ tenant: c.tenant, kind: 'webhook_secret', id: c.id });

/** The SQLite side of ConnectionWebhooks, on the connections table (migration 8). */
export class ConnectionWebhookStore {
  private statements: Record<'byEndpoint' | 'byAccount' | 'setEndpoint' | 'setSecret' | 'secret', Statement> | undefined;

  constructor(
    private readonly db: Db,
    private readonly connections: ConnectionStore,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  // Prepared on first use: a store opened before its migrations ran has no such columns yet.
  private get sql() {
    this.statements ??= {
      // Whole rows from statements prepared once: one of these runs for every webhook delivery.
      byEndpoint: this.db.prepare("SELECT * FROM connections WHERE integration = ? AND webhook_endpoint = ? AND state <> 'revoked'"),
      byAccount: this.db.prepare("SELECT * FROM connections WHERE integration = ? AND account_id = ? AND state <> 'revoked' ORDER BY created_at, rowid"),
      setEndpoint: this.db.prepare(
        "UPDATE connections SET webhook_endpoint = @endpoint, updated_at = @now WHERE id = @id AND webhook_endpoint IS NULL AND state <> 'revoked'",
      ),
      setSecret: this.db.prepare("UPDATE connections SET webhook_secret = @sealed, updated_at = @now WHERE id = @id AND state <> 'revoked'"),
      secret: this.db.prepare('SELECT webhook_secret FROM connections WHERE id = ?').pluck(),
    };
    return this.statements;
  }

  byEndpoint(integration: string, endpoint: string): Connection | undefined {
    const row = this.sql.byEndpoint.get(integration, endpoint);
    return row === undefined ? undefined : toConnection(row);
  }

  byAccount(integration: string, accountId: string): Connection[] {
    return this.sql.byAccount.all(integration, accountId).map(toConnection);
  }

  ensureEndpoint(id: string): string | undefined {
    const c = this.connections.get(id);
    if (c === undefined || c.state === 'revoked') return undefined;
    if (c.webhookEndpoint !== null) return c.webhookEndpoint;
    // Guarded on "none yet": two processes making one at once agree on the first.
    this.sql.setEndpoint.run({ id, endpoint: newEndpointId(), now: this.clock.now() });
    return this.connections.get(id)?.webhookEndpoint ?? undefined;
  }

  /** The tenant's data key must exist (see sqliteConnections): sealing happens here, synchronously. */
  setWebhookSecret(id: string, secret: string | null): Connection | undefined {
    return this.db
      .transaction(() => {
        const c = this.connections.get(id);
        if (c === undefined || c.state === 'revoked') return undefined;
        const sealed = secret === null ? null : this.vault.encrypt(scope(c), secret);
        this.sql.setSecret.run({ id, sealed, now: this.clock.now() });
        if (secret !== null) this.ensureEndpoint(id);
        return this.connections.get(id);
      })
      .immediate();
  }

  webhookSecret(c: Connection): string | undefined {
    const sealed = this.sql.secret.get(c.id) as string | null | undefined;
    return sealed == null ? undefined : this.vault.decryptString(scope(c), sealed);
  }
}

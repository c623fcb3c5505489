import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import { type PgStore, type Queryable, sqlstateOf } from '../store/pg/pool.js';
import type { Vault } from '../vault/vault.js';
import type { ConnectionRepository, LinkInput } from './repository.js';
import { accountChanged, baseChanged, type LeaseResult, RESTART_POLLERS_SQL, storedApiValues, toConnection } from './store.js';
import { type Connection, tokenSetSchema, type TokenSet } from './types.js';
import { newEndpointId } from './webhooks.js';

const tokensOf = (r: unknown) => z.object({ tokens: z.string().nullable() }).parse(r).tokens;
const webhookSecretOf = (r: unknown) => z.object({ webhook_secret: z.string().nullable() }).parse(r).webhook_secret;

const tokenScope = (c: { tenant: string; id: string }) => ({ tenant: c.tenant, kind: 'token_set', id: c.id });
const secretScope = (c: { tenant: string; id: string }) => ({ tenant: c.tenant, kind: 'webhook_secret', id: c.id });

/** A unique violation on connections_live: another replica created the same live connection first. */
const UNIQUE_VIOLATION = '23505';
const LINK_ATTEMPTS = 3;

/**
 * Connections in PostgreSQL, shared by every replica: the same guarded transitions as the SQLite
 * ConnectionStore, with row locks (`SELECT … FOR UPDATE`) where SQLite relies on its single
 * writer. Time is the injected clock's, passed into SQL, never the server's `now()`, so the
 * replicas' leases compare like the SQLite store's do.
 */
export class PgConnections implements ConnectionRepository {
  constructor(
    private readonly db: PgStore,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  get(id: string): Promise<Connection | undefined> {
    return this.db.maybeOne('SELECT * FROM connections WHERE id = $1', [id], toConnection);
  }

  find(tenant: string, user: string, integration: string): Promise<Connection | undefined> {
    return this.db.maybeOne(
      "SELECT * FROM connections WHERE tenant_id = $1 AND user_id = $2 AND integration = $3 AND state <> 'revoked'",
      [tenant, user, integration],
      toConnection,
    );
  }

  list(filter: { tenant?: string; user?: string; includeRevoked?: boolean } = {}): Promise<Connection[]> {
    const where: string[] = [];
    const args: string[] = [];
    const param = (value: string): string => `$${args.push(value)}`;
    if (filter.tenant !== undefined) where.push(`tenant_id = ${param(filter.tenant)}`);
    if (filter.user !== undefined) where.push(`user_id = ${param(filter.user)}`);
    if (!filter.includeRevoked) where.push("state <> 'revoked'");
    // COLLATE "C" sorts bytes as SQLite does; seq breaks ties on created_at as SQLite's rowid would.
    const sql = `SELECT * FROM connections ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY tenant_id COLLATE "C", user_id COLLATE "C", integration COLLATE "C", created_at, seq`;
    return this.db.query(sql, args, toConnection);
  }

  async link(input: LinkInput): Promise<Connection> {
    await this.vault.ensureDataKey(input.tenant);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.tx((q) => this.linkOnce(q, input));
      } catch (err) {
        // Two replicas linking one user's first connection at once: the loser's INSERT breaks the
        // live-connection unique index; run again, it then re-links the winner's row.
        if (sqlstateOf(err) !== UNIQUE_VIOLATION || attempt >= LINK_ATTEMPTS) throw err;
      }
    }
  }

  private async linkOnce(q: Queryable, input: LinkInput): Promise<Connection> {
    const now = this.clock.now();
    // The lock keeps a concurrent revoke or re-link from interleaving; a row revoked meanwhile no
    // longer matches when the lock is granted (READ COMMITTED re-checks), so a new one is made.
    const live = await q.maybeOne(
      "SELECT * FROM connections WHERE tenant_id = $1 AND user_id = $2 AND integration = $3 AND state <> 'revoked' FOR UPDATE",
      [input.tenant, input.user, input.integration],
      toConnection,
    );
    const existing = live?.id;
    const id = existing ?? `conn_${randomBytes(9).toString('base64url')}`;
    const sealed = this.seal({ tenant: input.tenant, id }, input.tokens);
    const exp = input.tokens.expiresAt ?? null;
    const scopes = input.scopes.join(' ');
    const account = input.accountId ?? null;
    const values = storedApiValues(input.apiValues);
    if (existing !== undefined) {
      if (accountChanged(live!.accountId, account) || baseChanged(live!.apiValues, input.apiValues)) await q.exec(RESTART_POLLERS_SQL('$1', '$2'), [id, now]);
      // The account id learned by this link, or none when its lookup failed: the user may have linked
      // another account, whose events the old id would keep routing here (commitRefresh leaves it alone).
      return q.one(
        `UPDATE connections SET state = 'active', reason = NULL, tokens = $2, token_version = token_version + 1,
           access_expires_at = $3, scopes = $4, refresh_owner = NULL, refresh_until = NULL, refresh_started_at = NULL,
           refresh_failures = 0, account_id = $5, api_values = $7, updated_at = $6
         WHERE id = $1 RETURNING *`,
        [id, sealed, exp, scopes, account, now, values],
        toConnection,
      );
    }
    return q.one(
      `INSERT INTO connections (id, tenant_id, user_id, integration, state, tokens, token_version, access_expires_at, scopes, account_id, api_values, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'active', $5, 1, $6, $7, $8, $10, $9, $9) RETURNING *`,
      [id, input.tenant, input.user, input.integration, sealed, exp, scopes, account, now, values],
      toConnection,
    );
  }

  async tokens(c: Connection): Promise<TokenSet> {
    const sealed = await this.db.maybeOne('SELECT tokens FROM connections WHERE id = $1', [c.id], tokensOf);
    if (!sealed) throw new HubError('connection_required', `connection ${c.id} has no stored tokens`);
    // Sealed by another replica under a data key this one may not have loaded yet.
    return this.vault.decrypting(() => tokenSetSchema.parse(JSON.parse(this.vault.decryptString(tokenScope(c), sealed))));
  }

  async markNeedsReauth(id: string, reason: string): Promise<boolean> {
    const changed = await this.db.exec(
      `UPDATE connections SET state = 'needs_reauth', reason = $2, refresh_owner = NULL, refresh_until = NULL,
         refresh_started_at = NULL, updated_at = $3 WHERE id = $1 AND state = 'active'`,
      [id, reason, this.clock.now()],
    );
    return changed === 1;
  }

  /** Revoked connections keep their row for the record but lose their tokens and webhook secret. */
  async markRevoked(id: string, reason: string): Promise<boolean> {
    const changed = await this.db.exec(
      `UPDATE connections SET state = 'revoked', reason = $2, tokens = NULL, webhook_secret = NULL, refresh_owner = NULL,
         refresh_until = NULL, refresh_started_at = NULL, updated_at = $3 WHERE id = $1 AND state <> 'revoked'`,
      [id, reason, this.clock.now()],
    );
    return changed === 1;
  }

  /**
   * The SQLite store's claim, under a row lock: replicas asking at once queue on the lock, and each
   * sees the lease the one before it recorded. `ownerIsDead` is a local judgment (the caller's
   * table of owners), so it runs here, between the locked read and the update.
   */
  tryLease(id: string, seenVersion: number, owner: string, leaseMs: number, ownerIsDead: (owner: string) => boolean): Promise<LeaseResult> {
    return this.db.tx(async (q): Promise<LeaseResult> => {
      const c = await q.maybeOne('SELECT * FROM connections WHERE id = $1 FOR UPDATE', [id], toConnection);
      if (!c) throw new HubError('connection_required', `no connection ${id}`);
      if (c.tokenVersion !== seenVersion || c.state !== 'active') return { kind: 'moved', connection: c };
      const now = this.clock.now();
      // A claim under the caller's own owner id is a leftover (see ConnectionStore.tryLease).
      const leased = c.refreshOwner !== null && c.refreshOwner !== owner && c.refreshUntil !== null && c.refreshUntil > now && !ownerIsDead(c.refreshOwner);
      if (leased) return { kind: 'held', connection: c };
      // A start time left behind means the last refresh never committed: its outcome is unknown.
      const interrupted = c.refreshStartedAt !== null;
      const connection = await q.one(
        `UPDATE connections SET refresh_owner = $2, refresh_until = $3, refresh_started_at = $4, updated_at = $4
         WHERE id = $1 AND token_version = $5 RETURNING *`,
        [id, owner, now + leaseMs, now, seenVersion],
        toConnection,
      );
      return { kind: 'acquired', connection, interrupted };
    });
  }

  /** Commits a refreshed token set atomically, only if the caller still holds the lease. */
  async commitRefresh(c: Connection, owner: string, tokens: TokenSet): Promise<boolean> {
    await this.vault.ensureDataKey(c.tenant);
    const now = this.clock.now();
    const changed = await this.db.exec(
      `UPDATE connections SET tokens = $2, token_version = token_version + 1, access_expires_at = $3,
         refresh_owner = NULL, refresh_until = NULL, refresh_started_at = NULL, refresh_failures = 0,
         last_refresh_at = $4, updated_at = $4
       WHERE id = $1 AND refresh_owner = $5 AND state = 'active'`,
      [c.id, this.seal(c, tokens), tokens.expiresAt ?? null, now, owner],
    );
    return changed === 1;
  }

  /** As ConnectionStore.releaseLease: an unknown outcome keeps the start time, so the next claim reads as interrupted. */
  async releaseLease(id: string, owner: string, opts: { outcomeUnknown?: boolean } = {}): Promise<void> {
    await this.db.exec(
      `UPDATE connections SET refresh_owner = NULL, refresh_until = NULL,
         refresh_started_at = CASE WHEN $3 THEN refresh_started_at ELSE NULL END,
         refresh_failures = refresh_failures + 1, updated_at = $4 WHERE id = $1 AND refresh_owner = $2`,
      [id, owner, opts.outcomeUnknown === true, this.clock.now()],
    );
  }

  byEndpoint(integration: string, endpoint: string): Promise<Connection | undefined> {
    return this.db.maybeOne(
      "SELECT * FROM connections WHERE integration = $1 AND webhook_endpoint = $2 AND state <> 'revoked'",
      [integration, endpoint],
      toConnection,
    );
  }

  byAccount(integration: string, accountId: string): Promise<Connection[]> {
    return this.db.query(
      "SELECT * FROM connections WHERE integration = $1 AND account_id = $2 AND state <> 'revoked' ORDER BY created_at, seq",
      [integration, accountId],
      toConnection,
    );
  }

  async ensureEndpoint(id: string): Promise<string | undefined> {
    const c = await this.get(id);
    if (c === undefined || c.state === 'revoked') return undefined;
    if (c.webhookEndpoint !== null) return c.webhookEndpoint;
    // Guarded on "none yet": a replica making one at the same moment waits on the row, finds the
    // first one set, changes nothing, and reads it back below.
    await this.db.exec("UPDATE connections SET webhook_endpoint = $2, updated_at = $3 WHERE id = $1 AND webhook_endpoint IS NULL AND state <> 'revoked'", [
      id,
      newEndpointId(),
      this.clock.now(),
    ]);
    return (await this.get(id))?.webhookEndpoint ?? undefined;
  }

  async setWebhookSecret(id: string, secret: string | null): Promise<Connection | undefined> {
    const c = await this.get(id);
    if (c === undefined || c.state === 'revoked') return undefined;
    let sealed: string | null = null;
    if (secret !== null) {
      await this.vault.ensureDataKey(c.tenant);
      sealed = this.vault.encrypt(secretScope(c), secret);
    }
    // One statement: the secret and, with a secret, an endpoint if the connection has none (only
    // its endpoint is verified with it); revoked in between, nothing changes.
    return this.db.maybeOne(
      `UPDATE connections SET webhook_secret = $2, webhook_endpoint = coalesce(webhook_endpoint, $3), updated_at = $4
       WHERE id = $1 AND state <> 'revoked' RETURNING *`,
      [id, sealed, secret === null ? null : newEndpointId(), this.clock.now()],
      toConnection,
    );
  }

  async webhookSecret(c: Connection): Promise<string | undefined> {
    const sealed = await this.db.maybeOne('SELECT webhook_secret FROM connections WHERE id = $1', [c.id], webhookSecretOf);
    if (sealed == null) return undefined;
    return this.vault.decrypting(() => this.vault.decryptString(secretScope(c), sealed));
  }

  private seal(c: { tenant: string; id: string }, tokens: TokenSet): string {
    return this.vault.encrypt(tokenScope(c), JSON.stringify(tokenSetSchema.parse(tokens)));
  }
}

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import { CONNECTION_STATES, tokenSetSchema, type Connection, type TokenSet } from './types.js';
import type { LinkInput } from './repository.js';
import { ConnectionWebhookStore } from './webhooks.js';

const row = z.object({
  id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  integration: z.string(),
  state: z.enum(CONNECTION_STATES),
  reason: z.string().nullable(),
  tokens: z.string().nullable(),
  token_version: z.number(),
  access_expires_at: z.number().nullable(),
  scopes: z.string().nullable(),
  refresh_owner: z.string().nullable(),
  refresh_until: z.number().nullable(),
  refresh_started_at: z.number().nullable(),
  refresh_failures: z.number(),
  last_refresh_at: z.number().nullable(),
  account_id: z.string().nullable(),
  api_values: z.string().nullish(),
  webhook_endpoint: z.string().nullable(),
  webhook_secret: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});

/** A connections row as a Connection, parsed (a damaged row is an error). */
/**
 * Whether a re-link moved the connection to another provider account: both lookups named one, and
 * not the same. (A lookup that failed says nothing about which account it is.)
 */
export function accountChanged(before: string | null, after: string | undefined | null): boolean {
  return before !== null && after !== undefined && after !== null && before !== after;
}

/**
 * A connection's pollers read the account's feeds from their start, at once, as for a first link:
 * a cursor is the old account's (another account's id or timestamp), which the new account's feed
 * refuses or reads past. The pollers table belongs to src/polling/; only its cursor and schedule
 * move here, in the re-link's transaction. The same statement serves SQLite and PostgreSQL.
 */
export const RESTART_POLLERS_SQL = (id: string, now: string) =>
  `UPDATE pollers SET cursor = NULL, cursor_at = NULL, stuck_pages = 0, next_run_at = ${now}, updated_at = ${now} WHERE connection_id = ${id}`;
const RESTART_POLLERS = RESTART_POLLERS_SQL('@id', '@now');

const apiValuesSchema = z.record(z.string(), z.string());

/** The values as stored: JSON, or NULL for none. */
export const storedApiValues = (values: Record<string, string> | undefined): string | null =>
  values === undefined || Object.keys(values).length === 0 ? null : JSON.stringify(values);

/**
 * Whether a re-link moved the connection's API base (another Jira site, another Salesforce org):
 * its pollers' cursors are the old site's, as with another account. A connection linked before
 * the base named a value, now learning one, counts too: its cursors are the fixed base's.
 */
export function baseChanged(before: Record<string, string>, after: Record<string, string> | undefined): boolean {
  const a = after ?? {};
  const keys = new Set([...Object.keys(before), ...Object.keys(a)]);
  return [...keys].some((k) => before[k] !== a[k]);
}

export function toConnection(r: unknown): Connection {
  const x = row.parse(r);
  return {
    id: x.id,
    tenant: x.tenant_id,
    user: x.user_id,
    integration: x.integration,
    state: x.state,
    reason: x.reason,
    tokenVersion: x.token_version,
    accessExpiresAt: x.access_expires_at,
    scopes: x.scopes ? x.scopes.split(' ').filter(Boolean) : [],
    refreshOwner: x.refresh_owner,
    refreshUntil: x.refresh_until,
    refreshStartedAt: x.refresh_started_at,
    refreshFailures: x.refresh_failures,
    lastRefreshAt: x.last_refresh_at,
    accountId: x.account_id,
    apiValues: x.api_values ? apiValuesSchema.parse(JSON.parse(x.api_values)) : {},
    webhookEndpoint: x.webhook_endpoint,
    hasWebhookSecret: x.webhook_secret !== null,
    createdAt: x.created_at,
    updatedAt: x.updated_at,
  };
}

export type LeaseResult =
  | { kind: 'acquired'; connection: Connection; interrupted: boolean }
  | { kind: 'held'; connection: Connection }
  | { kind: 'moved'; connection: Connection };

/**
 * Connections and their encrypted token sets. Every state change is a guarded UPDATE
 * (`WHERE id = @id AND …`) whose row count is checked, so two processes sharing the file cannot
 * both win a transition.
 */
export class ConnectionStore {
  constructor(
    private readonly db: Db,
    /** Seals inside transactions, synchronously: a tenant's data key is ensured before (see `sqliteConnections`). */
    readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  private hooks: ConnectionWebhookStore | undefined;

  /** Endpoint ids, account ids and per-connection webhook secrets of these connections. */
  get webhooks(): ConnectionWebhookStore {
    this.hooks ??= new ConnectionWebhookStore(this.db, this, this.vault, this.clock);
    return this.hooks;
  }

  get(id: string): Connection | undefined {
    const r = this.db.prepare('SELECT * FROM connections WHERE id = ?').get(id);
    return r === undefined ? undefined : toConnection(r);
  }

  /** The live (not revoked) connection of a user to an integration. */
  find(tenant: string, user: string, integration: string): Connection | undefined {
    const r = this.db
      .prepare("SELECT * FROM connections WHERE tenant_id = ? AND user_id = ? AND integration = ? AND state <> 'revoked'")
      .get(tenant, user, integration);
    return r === undefined ? undefined : toConnection(r);
  }

  list(filter: { tenant?: string; user?: string; includeRevoked?: boolean } = {}): Connection[] {
    const where: string[] = [];
    const args: Record<string, string> = {};
    if (filter.tenant !== undefined) {
      where.push('tenant_id = @tenant');
      args['tenant'] = filter.tenant;
    }
    if (filter.user !== undefined) {
      where.push('user_id = @user');
      args['user'] = filter.user;
    }
    if (!filter.includeRevoked) where.push("state <> 'revoked'");
    const sql = `SELECT * FROM connections ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY tenant_id, user_id, integration, created_at`;
    return this.db.prepare(sql).all(args).map(toConnection);
  }

  tokens(c: Connection): TokenSet {
    const r = this.db.prepare('SELECT tokens FROM connections WHERE id = ?').pluck().get(c.id) as string | null | undefined;
    if (!r) throw new Error(`connection ${c.id} has no stored tokens`);
    return tokenSetSchema.parse(JSON.parse(this.vault.decryptString(this.scope(c), r)));
  }

  /**
   * Stores a freshly linked token set: re-links the live connection if there is one, else creates it.
   * Re-linked to another provider account, its pollers start that account's feeds afresh.
   */
  link(input: LinkInput): Connection {
    const now = this.clock.now();
    // The values this link learned, or none: a relink to another site or org replaces them whole.
    const values = storedApiValues(input.apiValues);
    return this.db
      .transaction(() => {
        const existing = this.find(input.tenant, input.user, input.integration);
        const id = existing?.id ?? `conn_${randomBytes(9).toString('base64url')}`;
        const sealed = this.seal({ tenant: input.tenant, id }, input.tokens);
        if (existing) {
          this.db
            .prepare(
              `UPDATE connections SET state = 'active', reason = NULL, tokens = @sealed, token_version = token_version + 1,
               access_expires_at = @exp, scopes = @scopes, refresh_owner = NULL, refresh_until = NULL,
               refresh_started_at = NULL, refresh_failures = 0, account_id = @account, api_values = @values, updated_at = @now WHERE id = @id`,
            )
            // The account id learned by this link, or none when its lookup failed: the user may have linked
            // another account, whose events the old id would keep routing here (a refresh never comes here:
            // commitRefresh leaves account_id alone).
            .run({ id, sealed, exp: input.tokens.expiresAt ?? null, scopes: input.scopes.join(' '), account: input.accountId ?? null, values, now });
          if (accountChanged(existing.accountId, input.accountId) || baseChanged(existing.apiValues, input.apiValues))
            this.db.prepare(RESTART_POLLERS).run({ id, now });
        } else {
          this.db
            .prepare(
              `INSERT INTO connections (id, tenant_id, user_id, integration, state, tokens, token_version, access_expires_at, scopes, account_id, api_values, created_at, updated_at)
             VALUES (@id, @tenant, @user, @integration, 'active', @sealed, 1, @exp, @scopes, @account, @values, @now, @now)`,
            )
            .run({
              id,
              tenant: input.tenant,
              user: input.user,
              integration: input.integration,
              sealed,
              exp: input.tokens.expiresAt ?? null,
              scopes: input.scopes.join(' '),
              account: input.accountId ?? null,
              values,
              now,
            });
        }
        return this.get(id)!;
      })
      .immediate();
  }

  /**
   * Claims the right to refresh: only when the token version is still the one the caller saw and
   * no live lease exists (or the lease holder is known dead). Recording the claim before the
   * token endpoint is called is what lets a crash be recognised afterwards.
   */
  tryLease(id: string, seenVersion: number, owner: string, leaseMs: number, ownerIsDead: (owner: string) => boolean): LeaseResult {
    return this.db
      .transaction((): LeaseResult => {
        const c = this.get(id);
        if (!c) throw new Error(`no connection ${id}`);
        if (c.tokenVersion !== seenVersion || c.state !== 'active') return { kind: 'moved', connection: c };
        const now = this.clock.now();
        // A claim recorded under the caller's own owner id is a leftover (its refreshes never overlap,
        // see TokenManager.refresh), e.g. from a refresh whose result could not be saved.
        const leased = c.refreshOwner !== null && c.refreshOwner !== owner && c.refreshUntil !== null && c.refreshUntil > now && !ownerIsDead(c.refreshOwner);
        if (leased) return { kind: 'held', connection: c };
        // A start time left behind means the last refresh never committed: its outcome is unknown.
        const interrupted = c.refreshStartedAt !== null;
        this.db
          .prepare(
            'UPDATE connections SET refresh_owner = @owner, refresh_until = @until, refresh_started_at = @now, updated_at = @now WHERE id = @id AND token_version = @v',
          )
          .run({ id, owner, until: now + leaseMs, now, v: seenVersion });
        return { kind: 'acquired', connection: this.get(id)!, interrupted };
      })
      .immediate();
  }

  /** Commits a refreshed token set atomically, only if the caller still holds the lease. */
  commitRefresh(c: Connection, owner: string, tokens: TokenSet): boolean {
    const now = this.clock.now();
    const sealed = this.seal(c, tokens);
    const res = this.db
      .prepare(
        `UPDATE connections SET tokens = @sealed, token_version = token_version + 1, access_expires_at = @exp,
           refresh_owner = NULL, refresh_until = NULL, refresh_started_at = NULL, refresh_failures = 0,
           last_refresh_at = @now, updated_at = @now
         WHERE id = @id AND refresh_owner = @owner AND state = 'active'`,
      )
      .run({ id: c.id, sealed, exp: tokens.expiresAt ?? null, owner, now });
    return res.changes === 1;
  }

  /**
   * Gives the lease back after failed attempts. When one of them got no answer, the provider may
   * have spent the refresh token; the start time then stays, so the next claim is told the last
   * refresh was interrupted.
   */
  releaseLease(id: string, owner: string, opts: { outcomeUnknown?: boolean } = {}): void {
    this.db
      .prepare(
        `UPDATE connections SET refresh_owner = NULL, refresh_until = NULL,
           refresh_started_at = CASE WHEN @unknown = 1 THEN refresh_started_at ELSE NULL END,
           refresh_failures = refresh_failures + 1, updated_at = @now WHERE id = @id AND refresh_owner = @owner`,
      )
      .run({ id, owner, unknown: opts.outcomeUnknown ? 1 : 0, now: this.clock.now() });
  }

  markNeedsReauth(id: string, reason: string): boolean {
    const res = this.db
      .prepare(
        `UPDATE connections SET state = 'needs_reauth', reason = @reason, refresh_owner = NULL, refresh_until = NULL,
           refresh_started_at = NULL, updated_at = @now WHERE id = @id AND state = 'active'`,
      )
      .run({ id, reason, now: this.clock.now() });
    return res.changes === 1;
  }

  /** Revoked connections keep their row for the record but lose their tokens and webhook secret. */
  markRevoked(id: string, reason: string): boolean {
    const res = this.db
      .prepare(
        `UPDATE connections SET state = 'revoked', reason = @reason, tokens = NULL, webhook_secret = NULL, refresh_owner = NULL,
           refresh_until = NULL, refresh_started_at = NULL, updated_at = @now WHERE id = @id AND state <> 'revoked'`,
      )
      .run({ id, reason, now: this.clock.now() });
    return res.changes === 1;
  }

  private scope(c: { tenant: string; id: string }) {
    return { tenant: c.tenant, kind: 'token_set', id: c.id };
  }

  private seal(c: { tenant: string; id: string }, tokens: TokenSet): string {
    return this.vault.encrypt(this.scope(c), JSON.stringify(tokenSetSchema.parse(tokens)));
  }
}

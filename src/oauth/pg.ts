import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Queryable } from '../store/pg/pool.js';
import { type FlowRecord, type FlowRepository, toFlow } from './flow-store.js';
import { type ConnectSessions, KEEP_MS, type LinkUseOutcome, type LinkUses, sha256 } from './link-uses.js';
import type { LinkPayload } from './links.js';

const FLOW_COLUMNS = 'state_hash, tenant_id, user_id, integration, verifier, browser_hash, redirect_uri, created_at, expires_at, used_at';

/**
 * OAuth flows on PostgreSQL. A callback may reach any replica, and a replayed one another: `spend`
 * is one guarded UPDATE, so exactly one of them takes the flow.
 */
export class PgFlows implements FlowRepository {
  constructor(private readonly db: Queryable) {}

  async create(f: Omit<FlowRecord, 'usedAt'>): Promise<void> {
    // A second flow with the same state hash is a unique violation (store_failed): the first stays.
    await this.db.exec(
      `INSERT INTO oauth_flows (state_hash, tenant_id, user_id, integration, verifier, browser_hash, redirect_uri, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [f.stateHash, f.tenant, f.user, f.integration, f.sealedVerifier, f.browserHash, f.redirectUri, f.createdAt, f.expiresAt],
    );
  }

  async find(stateHash: string): Promise<FlowRecord | undefined> {
    return this.db.maybeOne(`SELECT ${FLOW_COLUMNS} FROM oauth_flows WHERE state_hash = $1`, [stateHash], toFlow);
  }

  async spend(stateHash: string, now: number): Promise<boolean> {
    return (await this.db.exec('UPDATE oauth_flows SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL', [stateHash, now])) === 1;
  }

  async lastCompleted(tenant: string, user: string, integration: string): Promise<number | undefined> {
    const at = await this.db.one(
      'SELECT max(used_at) AS at FROM oauth_flows WHERE tenant_id = $1 AND user_id = $2 AND integration = $3',
      [tenant, user, integration],
      (r) => z.number().nullable().parse(r.at),
    );
    return at ?? undefined;
  }

  async purge(before: number): Promise<number> {
    return this.db.exec('DELETE FROM oauth_flows WHERE expires_at < $1', [before]);
  }
}

const useRow = z.object({ browser_hash: z.string(), used_at: z.number().nullable() });

/**
 * Once-only links and /connect sessions on PostgreSQL. The first browser to open a link claims it
 * (INSERT … ON CONFLICT DO NOTHING: of two replicas inserting at once, one row), and a
 * confirmation spends it with a guarded UPDATE, so two confirmations on two replicas start one flow.
 */
export class PgLinkUses implements LinkUses, ConnectSessions {
  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  async claim(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome> {
    const now = this.clock.now();
    const id = sha256(link.n);
    await this.db.exec('DELETE FROM link_uses WHERE expires_at < $1', [now - KEEP_MS]);
    const inserted = await this.db.exec(
      `INSERT INTO link_uses (nonce_hash, purpose, tenant_id, user_id, browser_hash, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (nonce_hash) DO NOTHING`,
      [id, link.p, link.t, link.u, browserHash, now, link.exp],
    );
    if (inserted === 1) return 'ok';
    // A separate statement: the INSERT waited for a concurrent claim's commit, and only a new
    // statement's snapshot (READ COMMITTED) sees the row that claim wrote.
    return this.outcome(id, browserHash);
  }

  async spend(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome> {
    const id = sha256(link.n);
    const spent = await this.db.exec('UPDATE link_uses SET used_at = $3 WHERE nonce_hash = $1 AND browser_hash = $2 AND used_at IS NULL', [
      id,
      browserHash,
      this.clock.now(),
    ]);
    if (spent === 1) return 'ok';
    const o = await this.outcome(id, browserHash);
    return o === 'ok' ? 'used' : o;
  }

  private async outcome(id: string, browserHash: string): Promise<LinkUseOutcome> {
    const row = await this.db.maybeOne('SELECT browser_hash, used_at FROM link_uses WHERE nonce_hash = $1', [id], (r) => useRow.parse(r));
    // Never opened: a confirmation for it cannot come from the browser that opened it.
    if (row === undefined) return 'other_browser';
    if (row.used_at !== null) return 'used';
    return row.browser_hash === browserHash ? 'ok' : 'other_browser';
  }

  async open(session: LinkPayload): Promise<void> {
    const now = this.clock.now();
    await this.db.exec('DELETE FROM connect_sessions WHERE expires_at < $1', [now - KEEP_MS]);
    await this.db.exec('INSERT INTO connect_sessions (nonce_hash, tenant_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      sha256(session.n),
      session.t,
      session.u,
      now,
      session.exp,
    ]);
  }

  async live(session: LinkPayload): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 FROM connect_sessions WHERE nonce_hash = $1 AND ended_at IS NULL AND expires_at > $2', [
      sha256(session.n),
      this.clock.now(),
    ]);
    return rows.length > 0;
  }

  async end(session: LinkPayload): Promise<void> {
    await this.db.exec('UPDATE connect_sessions SET ended_at = $2 WHERE nonce_hash = $1 AND ended_at IS NULL', [sha256(session.n), this.clock.now()]);
  }
}

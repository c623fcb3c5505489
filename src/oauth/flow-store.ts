import { z } from 'zod';
import type { Db } from '../store/db.js';

/** One authorization-code flow between its start and its callback. */
export interface FlowRecord {
  /** SHA-256 of the `state` sent to the provider: the state itself is never stored. */
  stateHash: string;
  tenant: string;
  user: string;
  integration: string;
  /** The PKCE verifier, sealed by the vault. */
  sealedVerifier: string;
  /** SHA-256 of the secret in the cookie of the browser that started the flow. */
  browserHash: string;
  redirectUri: string;
  createdAt: number;
  expiresAt: number;
  /** When the callback spent the flow; null until then. */
  usedAt: number | null;
}

/**
 * The flows' rows behind a Promise-based interface (STYLE.md §10), so a PostgreSQL implementation
 * is a second class, not a rewrite of OAuthFlows. One contract suite runs against every
 * implementation (test/store/contracts/flows.ts).
 */
export interface FlowRepository {
  create(flow: Omit<FlowRecord, 'usedAt'>): Promise<void>;
  find(stateHash: string): Promise<FlowRecord | undefined>;
  /** Takes the flow once: marks it used at `now` unless it was; true only for the call that did. */
  spend(stateHash: string, now: number): Promise<boolean>;
  /** When this user last spent a flow for the integration, if ever. */
  lastCompleted(tenant: string, user: string, integration: string): Promise<number | undefined>;
  /** Drops the flows that expired before `before`, used or not; resolves to how many. */
  purge(before: number): Promise<number>;
}

const flowRow = z.object({
  state_hash: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  integration: z.string(),
  verifier: z.string(),
  browser_hash: z.string(),
  redirect_uri: z.string(),
  created_at: z.number(),
  expires_at: z.number(),
  used_at: z.number().nullable(),
});

/** A stored row as a FlowRecord; shared by every implementation. */
export function toFlow(raw: unknown): FlowRecord {
  const r = flowRow.parse(raw);
  return {
    stateHash: r.state_hash,
    tenant: r.tenant_id,
    user: r.user_id,
    integration: r.integration,
    sealedVerifier: r.verifier,
    browserHash: r.browser_hash,
    redirectUri: r.redirect_uri,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
  };
}

/** The SQLite flows. better-sqlite3 answers synchronously; callers await anyway. */
export class SqliteFlows implements FlowRepository {
  constructor(private readonly db: Db) {}

  async create(f: Omit<FlowRecord, 'usedAt'>): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO oauth_flows (state_hash, tenant_id, user_id, integration, verifier, browser_hash, redirect_uri, created_at, expires_at)
         VALUES (@stateHash, @tenant, @user, @integration, @sealedVerifier, @browserHash, @redirectUri, @createdAt, @expiresAt)`,
      )
      .run(f);
  }

  async find(stateHash: string): Promise<FlowRecord | undefined> {
    const raw = this.db.prepare('SELECT * FROM oauth_flows WHERE state_hash = ?').get(stateHash);
    return raw === undefined ? undefined : toFlow(raw);
  }

  async spend(stateHash: string, now: number): Promise<boolean> {
    return this.db.prepare('UPDATE oauth_flows SET used_at = ? WHERE state_hash = ? AND used_at IS NULL').run(now, stateHash).changes === 1;
  }

  async lastCompleted(tenant: string, user: string, integration: string): Promise<number | undefined> {
    const at = this.db
      .prepare('SELECT max(used_at) FROM oauth_flows WHERE tenant_id = ? AND user_id = ? AND integration = ?')
      .pluck()
      .get(tenant, user, integration) as number | null;
    return at ?? undefined;
  }

  async purge(before: number): Promise<number> {
    return this.db.prepare('DELETE FROM oauth_flows WHERE expires_at < ?').run(before).changes;
  }
}

import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Queryable } from '../store/pg/pool.js';
import type { Identity } from './identity.js';
import { type ApiTokenRecord, type ApiTokens, type CreatedToken, hashToken, mayBeToken, type NewToken, newToken, type TokenCheck, toRecord } from './tokens.js';

const COLUMNS = 'id, user_id, tenant_id, scopes, label, created_at, last_used_at, revoked_at, expires_at';
const ids = z.object({ id: z.string() });

/** How often a token's last use is written: a write per request would make every call a write. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Hub API tokens on PostgreSQL, shared by every replica. Revocation is one guarded UPDATE, so of
 * two replicas revoking one token only one reports it; the other replicas learn of it through
 * `revokedAmong` (their revocation poll), as a second process on a SQLite file does.
 */
export class PgApiTokens implements ApiTokens {
  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  async create(input: NewToken): Promise<CreatedToken> {
    const { token, record, hash } = newToken(input, this.clock.now());
    const stored = await this.db.one(
      `INSERT INTO api_tokens (id, token_hash, user_id, tenant_id, scopes, label, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [record.id, hash, record.user, record.tenant, record.scopes.join(' '), record.label, record.createdAt, record.expiresAt ?? null],
      toRecord,
    );
    return { token, record: stored };
  }

  async get(id: string): Promise<ApiTokenRecord | undefined> {
    return this.db.maybeOne(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1`, [id], toRecord);
  }

  async list(opts: { includeRevoked?: boolean } = {}): Promise<ApiTokenRecord[]> {
    // COLLATE "C": ties on created_at order by id byte-wise, as SQLite does, whatever the database's locale.
    const where = opts.includeRevoked ? '' : 'WHERE revoked_at IS NULL';
    return this.db.query(`SELECT ${COLUMNS} FROM api_tokens ${where} ORDER BY created_at, id COLLATE "C"`, [], toRecord);
  }

  async count(): Promise<number> {
    return this.db.one('SELECT count(*) AS n FROM api_tokens', [], (r) => z.number().parse(r.n));
  }

  async revoke(id: string): Promise<boolean> {
    const changed = await this.db.exec('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, this.clock.now()]);
    if (changed !== 1) return false;
    for (const fn of this.revokeListeners) fn(id);
    return true;
  }

  onRevoked(fn: (tokenId: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  async revokedAmong(tokenIds: readonly string[]): Promise<string[]> {
    if (tokenIds.length === 0) return [];
    const rows = await this.db.query(
      'SELECT id FROM api_tokens WHERE id = ANY($1::text[]) AND (revoked_at IS NOT NULL OR expires_at <= $2)',
      [tokenIds, this.clock.now()],
      (r) => ids.parse(r).id,
    );
    return rows;
  }

  async verify(token: string): Promise<Identity | undefined> {
    const r = await this.check(token);
    return r === 'expired' ? undefined : r;
  }

  async check(token: string): Promise<TokenCheck> {
    if (!mayBeToken(token)) return undefined;
    const rec = await this.db.maybeOne(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, [hashToken(token)], toRecord);
    if (rec === undefined) return undefined;
    const now = this.clock.now();
    if (rec.expiresAt !== undefined && now >= rec.expiresAt) return 'expired';
    if (rec.lastUsedAt === null || now - rec.lastUsedAt >= TOUCH_EVERY_MS) await this.touch(rec.id, now);
    return { tenant: rec.tenant, user: rec.user, scopes: rec.scopes, tokenId: rec.id };
  }

  /**
   * Guarded in SQL as well as here: replicas checking one token in the same minute all read the
   * old value, and only the first of their updates still matches the condition.
   */
  private async touch(id: string, now: number): Promise<void> {
    try {
      await this.db.exec('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2 - $3::bigint)', [
        id,
        now,
        TOUCH_EVERY_MS,
      ]);
    } catch {
      // Bookkeeping only: a busy database must not fail the request.
    }
  }
}

import type { Clock } from '../../src/clock.js';
import type { SandboxDb } from './db.js';
import { digest, newSecret, publicId } from './secrets.js';

/** RFC 6749 §4.1.2: codes are short-lived; ten minutes at most, sixty seconds here. */
const CODE_TTL_MS = 60_000;
/** How long a login + consent page may stay open. */
const INTERACTION_TTL_MS = 10 * 60_000;
/**
 * Open consent pages kept per client. GET /authorize needs no credentials (client_id and a
 * registered redirect_uri are public), so without a cap anyone could grow the table for as long as
 * the TTL lasts. Past the cap the oldest page of that client is dropped rather than new ones
 * refused: a flood then costs a slow user a restart, instead of locking every user out for the TTL.
 */
export const MAX_PENDING_PER_CLIENT = 100;

export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | null;
  codeChallenge: string;
}

export interface CodeRecord {
  grantId: string;
  clientId: string;
  scope: string;
  redirectUri: string;
  codeChallenge: string;
  expiresAt: number;
  usedAt: number | null;
}

export interface TokenRecord {
  tokenHash: string;
  kind: 'access' | 'refresh';
  grantId: string;
  clientId: string;
  username: string;
  scope: string;
  expiresAt: number | null;
  rotatedAt: number | null;
  /** Set when the token itself or its whole grant was revoked. */
  revokedAt: number | null;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string | null;
}

/** Authorization state: consent interactions, grants, codes and tokens — secrets as digests only. */
export class OAuthStore {
  constructor(
    private readonly db: SandboxDb,
    private readonly clock: Clock,
  ) {}

  /** Starts a consent interaction bound to one browser; both secrets go to that browser only. */
  openInteraction(p: PendingAuthorization): { interaction: string; browser: string } {
    const interaction = newSecret('sbx_ia');
    const browser = newSecret('sbx_br');
    const now = this.clock.now();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM sandbox_interactions WHERE expires_at <= ?').run(now);
      this.db
        .prepare(`INSERT INTO sandbox_interactions (id_hash, browser_hash, client_id, redirect_uri, scope, state, code_challenge, expires_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(digest(interaction), digest(browser), p.clientId, p.redirectUri, p.scope, p.state, p.codeChallenge, now + INTERACTION_TTL_MS);
      // rowid grows with each insert, so the newest rows are the highest.
      this.db
        .prepare(`DELETE FROM sandbox_interactions WHERE client_id = @client AND rowid NOT IN
                    (SELECT rowid FROM sandbox_interactions WHERE client_id = @client ORDER BY rowid DESC LIMIT @keep)`)
        .run({ client: p.clientId, keep: MAX_PENDING_PER_CLIENT });
    })();
    return { interaction, browser };
  }

  findInteraction(interaction: string, browser: string): PendingAuthorization | undefined {
    return this.db
      .prepare(`SELECT client_id AS clientId, redirect_uri AS redirectUri, scope, state, code_challenge AS codeChallenge
                FROM sandbox_interactions WHERE id_hash = ? AND browser_hash = ? AND expires_at > ?`)
      .get(digest(interaction), digest(browser), this.clock.now()) as PendingAuthorization | undefined;
  }

  /** One use only: the second submission of the same form finds nothing to delete. */
  closeInteraction(interaction: string): boolean {
    return this.db.prepare('DELETE FROM sandbox_interactions WHERE id_hash = ?').run(digest(interaction)).changes === 1;
  }

  /** Records the user's consent as a grant and returns a code for it. */
  grant(p: PendingAuthorization, username: string): string {
    const code = newSecret('sbx_code');
    const now = this.clock.now();
    const grantId = publicId('grt');
    this.db.transaction(() => {
      // Used codes stay a day past expiry so a replay still revokes their tokens (RFC 6749 §4.1.2).
      this.db.prepare('DELETE FROM sandbox_codes WHERE expires_at <= ?').run(now - 86_400_000);
      this.db.prepare('INSERT OR IGNORE INTO sandbox_accounts (username, created_at) VALUES (?, ?)').run(username, now);
      this.db
        .prepare('INSERT INTO sandbox_grants (id, client_id, username, scope, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(grantId, p.clientId, username, p.scope, now);
      this.db
        .prepare('INSERT INTO sandbox_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at) VALUES (?, ?, ?, ?, ?)')
        .run(digest(code), grantId, p.redirectUri, p.codeChallenge, now + CODE_TTL_MS);
    })();
    return code;
  }

  findCode(code: string): CodeRecord | undefined {
    return this.db
      .prepare(`SELECT c.grant_id AS grantId, g.client_id AS clientId, g.scope, c.redirect_uri AS redirectUri, c.code_challenge AS codeChallenge,
                       c.expires_at AS expiresAt, c.used_at AS usedAt
                FROM sandbox_codes c JOIN sandbox_grants g ON g.id = c.grant_id WHERE c.code_hash = ?`)
      .get(digest(code)) as CodeRecord | undefined;
  }

  /** Marks the code used and issues the first token pair, or returns null if it was used meanwhile. */
  redeemCode(code: string, accessTtlMs: number): IssuedTokens | null {
    return this.db.transaction(() => {
      const now = this.clock.now();
      const row = this.db
        .prepare('UPDATE sandbox_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL RETURNING grant_id AS grantId')
        .get(now, digest(code)) as { grantId: string } | undefined;
      return row ? this.issue(row.grantId, accessTtlMs, true) : null;
    })();
  }

  findToken(token: string): TokenRecord | undefined {
    return this.db
      .prepare(`SELECT t.token_hash AS tokenHash, t.kind, t.grant_id AS grantId, g.client_id AS clientId, g.username, g.scope,
                       t.expires_at AS expiresAt, t.rotated_at AS rotatedAt, COALESCE(t.revoked_at, g.revoked_at) AS revokedAt
                FROM sandbox_tokens t JOIN sandbox_grants g ON g.id = t.grant_id WHERE t.token_hash = ?`)
      .get(digest(token)) as TokenRecord | undefined;
  }

  /**
   * Retires a refresh token and issues its successor in one transaction; returns null if another
   * request rotated or revoked it first. With `keepRefresh` the old refresh token stays valid and
   * none is issued (providers that never rotate).
   */
  rotate(refresh: TokenRecord, accessTtlMs: number, keepRefresh: boolean): IssuedTokens | null {
    return this.db.transaction(() => {
      if (keepRefresh) return this.issue(refresh.grantId, accessTtlMs, false);
      const moved = this.db
        .prepare('UPDATE sandbox_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL')
        .run(this.clock.now(), refresh.tokenHash);
      return moved.changes === 1 ? this.issue(refresh.grantId, accessTtlMs, true) : null;
    })();
  }

  /** Ends an authorization: every token issued under it stops working (RFC 7009 §2.1, RFC 9700 §4.14.2). */
  revokeGrant(grantId: string): void {
    this.db.prepare('UPDATE sandbox_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.clock.now(), grantId);
  }

  revokeToken(tokenHash: string): void {
    this.db.prepare('UPDATE sandbox_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(this.clock.now(), tokenHash);
  }

  private issue(grantId: string, accessTtlMs: number, withRefresh: boolean): IssuedTokens {
    const now = this.clock.now();
    const insert = this.db.prepare('INSERT INTO sandbox_tokens (token_hash, kind, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    // Expired access tokens are of no further use, not even for reuse detection.
    this.db.prepare("DELETE FROM sandbox_tokens WHERE kind = 'access' AND expires_at <= ?").run(now - 86_400_000);
    const accessToken = newSecret('sbx_at');
    insert.run(digest(accessToken), 'access', grantId, now, now + accessTtlMs);
    if (!withRefresh) return { accessToken, refreshToken: null };
    const refreshToken = newSecret('sbx_rt');
    insert.run(digest(refreshToken), 'refresh', grantId, now, null);
    return { accessToken, refreshToken };
  }
}

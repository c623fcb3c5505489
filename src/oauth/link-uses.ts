import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { LinkPayload } from './links.js';

/** How opening or using a link went: only 'ok' lets it go on. */
export type LinkUseOutcome = 'ok' | 'used' | 'other_browser';

/**
 * Once-only links (issue 7 item 8). A link is claimed by the first browser that opens it (reloading
 * its confirm page there is fine) and spent when that browser confirms; a second browser, or a
 * second confirmation, is refused. Promise-based so another store can implement it.
 */
export interface LinkUses {
  claim(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome>;
  spend(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome>;
}

/** Server-side state of /connect sessions, so that logging out ends a session even if its cookie was copied. */
export interface ConnectSessions {
  open(session: LinkPayload): Promise<void>;
  live(session: LinkPayload): Promise<boolean>;
  end(session: LinkPayload): Promise<void>;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');

const useRow = z.object({ browser: z.string(), usedAt: z.number().nullable() });

/** Rows outlive their link or session by a day, so a late replay still meets "already used". */
export const KEEP_MS = 86_400_000;

export class SqliteLinkUses implements LinkUses, ConnectSessions {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async claim(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome> {
    const now = this.clock.now();
    const id = sha256(link.n);
    this.db.prepare('DELETE FROM link_uses WHERE expires_at < ?').run(now - KEEP_MS);
    this.db
      .prepare(
        `INSERT INTO link_uses (nonce_hash, purpose, tenant_id, user_id, browser_hash, created_at, expires_at)
         VALUES (@id, @purpose, @tenant, @user, @browser, @now, @exp) ON CONFLICT (nonce_hash) DO NOTHING`,
      )
      .run({ id, purpose: link.p, tenant: link.t, user: link.u, browser: browserHash, now, exp: link.exp });
    return this.outcome(id, browserHash);
  }

  async spend(link: LinkPayload, browserHash: string): Promise<LinkUseOutcome> {
    const id = sha256(link.n);
    // Guarded update (one row or none): two concurrent confirmations cannot both start a flow.
    const spent = this.db
      .prepare('UPDATE link_uses SET used_at = ? WHERE nonce_hash = ? AND browser_hash = ? AND used_at IS NULL')
      .run(this.clock.now(), id, browserHash);
    if (spent.changes === 1) return 'ok';
    const o = this.outcome(id, browserHash);
    return o === 'ok' ? 'used' : o;
  }

  private outcome(id: string, browserHash: string): LinkUseOutcome {
    const found: unknown = this.db.prepare('SELECT browser_hash AS browser, used_at AS usedAt FROM link_uses WHERE nonce_hash = ?').get(id);
    // Never opened: a confirmation for it cannot come from the browser that opened it.
    if (found === undefined) return 'other_browser';
    const row = useRow.parse(found);
    if (row.usedAt !== null) return 'used';
    return row.browser === browserHash ? 'ok' : 'other_browser';
  }

  async open(session: LinkPayload): Promise<void> {
    const now = this.clock.now();
    this.db.prepare('DELETE FROM connect_sessions WHERE expires_at < ?').run(now - KEEP_MS);
    this.db
      .prepare('INSERT INTO connect_sessions (nonce_hash, tenant_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(sha256(session.n), session.t, session.u, now, session.exp);
  }

  async live(session: LinkPayload): Promise<boolean> {
    const row = this.db
      .prepare('SELECT 1 FROM connect_sessions WHERE nonce_hash = ? AND ended_at IS NULL AND expires_at > ?')
      .get(sha256(session.n), this.clock.now());
    return row !== undefined;
  }

  async end(session: LinkPayload): Promise<void> {
    this.db.prepare('UPDATE connect_sessions SET ended_at = ? WHERE nonce_hash = ? AND ended_at IS NULL').run(this.clock.now(), sha256(session.n));
  }
}

import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { WalVersion } from '../store/wal-version.js';
import { DEFAULT_TENANT, HUB_SCOPES, type Identity } from './identity.js';
import type { RevocationSource } from './revocation-watch.js';
import { identityName } from './names.js';

/** Valid tokens the SQLite store remembers between commits. */
const MAX_REMEMBERED = 10_000;

/** Prefix that lets secret scanners recognise a leaked hub token. */
const TOKEN_PREFIX = 'sbt_';

export interface ApiTokenRecord {
  id: string;
  user: string;
  tenant: string;
  scopes: string[];
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** When the token stops working (epoch ms); absent for a token that does not expire. */
  expiresAt?: number;
}

export interface CreatedToken {
  record: ApiTokenRecord;
  /** The token itself: shown once, never stored. */
  token: string;
}

const rowSchema = z.object({
  id: z.string(),
  user_id: z.string(),
  tenant_id: z.string(),
  scopes: z.string(),
  label: z.string().nullable(),
  created_at: z.number(),
  last_used_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
  expires_at: z.number().nullable(),
});

export function toRecord(row: unknown): ApiTokenRecord {
  const r = rowSchema.parse(row);
  return {
    id: r.id,
    user: r.user_id,
    tenant: r.tenant_id,
    scopes: r.scopes.split(' ').filter(Boolean),
    label: r.label,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
  };
}

/**
 * Hashing with SHA-256 is enough: tokens carry 256 random bits, so there is nothing to brute-force
 * and a slow KDF would only slow every request.
 */
export function hashToken(token: string): string {
  // One-shot: no Hash object per request (this runs on every /mcp request).
  return hash('sha256', token, 'hex');
}

/** What a presented token resolves to: an identity, or why it does not. */
export type TokenCheck = Identity | 'expired' | undefined;

/** Longest lifetime accepted for an expiring token: ten years, far past any sane rotation. */
const MAX_LIFETIME_MS = 10 * 365 * 86_400_000;
const lifetimeSchema = z.number().int().positive().max(MAX_LIFETIME_MS);
const scopesSchema = z.array(z.enum(HUB_SCOPES)).min(1);

export interface NewToken {
  user: string;
  tenant?: string | undefined;
  scopes?: string[];
  label?: string | undefined;
  expiresInMs?: number | undefined;
}

/**
 * Hub API tokens: 256-bit random, stored hashed, revocable. Promise-based (STYLE.md §10) so a
 * PostgreSQL store is a second implementation, not a rewrite of the callers; one contract suite
 * (test/store/contracts/api-tokens.ts) runs against every implementation.
 */
export interface ApiTokens extends RevocationSource {
  create(input: NewToken): Promise<CreatedToken>;
  get(id: string): Promise<ApiTokenRecord | undefined>;
  list(opts?: { includeRevoked?: boolean }): Promise<ApiTokenRecord[]>;
  count(): Promise<number>;
  /** Revokes by id; resolves false when no active token has that id. */
  revoke(id: string): Promise<boolean>;
  /** Resolves a presented token to an identity, or undefined when unknown, revoked or expired. */
  verify(token: string): Promise<Identity | undefined>;
  /** Like verify, but tells an expired token apart (RFC 6750 §3.1 `invalid_token`: its holder needs a new one). */
  check(token: string): Promise<TokenCheck>;
}

/** A token about to be stored: validated input, the token shown once and the hash kept. Shared by every implementation. */
export function newToken(input: NewToken, now: number): { token: string; record: Omit<ApiTokenRecord, 'lastUsedAt' | 'revokedAt'>; hash: string } {
  const user = identityName(input.user, 'user');
  const lifetime = input.expiresInMs === undefined ? undefined : lifetimeSchema.safeParse(input.expiresInMs);
  if (lifetime && !lifetime.success)
    throw new HubError('invalid_params', `token lifetime ${input.expiresInMs} ms: must be a whole number of ms between 1 and ${MAX_LIFETIME_MS}`);
  const tenant = identityName(input.tenant ?? DEFAULT_TENANT, 'tenant');
  const parsedScopes = scopesSchema.safeParse(input.scopes ?? ['mcp']);
  if (!parsedScopes.success) throw new HubError('invalid_params', `scopes ${JSON.stringify(input.scopes)}: use one or more of ${HUB_SCOPES.join(', ')}`);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const record = {
    id: `tok_${randomBytes(6).toString('hex')}`,
    user,
    tenant,
    scopes: [...new Set(parsedScopes.data)],
    label: input.label ?? null,
    createdAt: now,
    ...(lifetime ? { expiresAt: now + lifetime.data } : {}),
  };
  return { token, record, hash: hashToken(token) };
}

/** Cheap checks before any lookup: a value that cannot be a hub token costs no query. */
export function mayBeToken(token: string): boolean {
  return token.startsWith(TOKEN_PREFIX) && token.length <= 200;
}

/**
 * The SQLite implementation. better-sqlite3 answers synchronously, so the bodies are synchronous
 * and each method resolves at once; the /mcp check costs one prepared-statement read and one await.
 */
export class SqliteApiTokens implements ApiTokens {
  // Prepared once: check runs on every HTTP request.
  private readonly byHash: Statement;
  private readonly touchStmt: Statement;
  private readonly revokedStmt: Statement;
  private readonly revokeListeners = new Set<(tokenId: string) => void>();
  /**
   * Tokens found valid, by hash, with the database's version when they were read: used while no
   * commit has happened since (a revocation by any process is a commit), so a request costs one
   * `pread` of the -shm file instead of a read transaction. Never a reason to refuse.
   */
  private readonly valid = new Map<string, { rec: ApiTokenRecord; version: string }>();
  private readonly version: WalVersion;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.version = new WalVersion(db);
    this.byHash = db.prepare('SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL');
    this.touchStmt = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
    // Primary-key lookups only: the revocation poll asks about the few tokens with open sessions.
    this.revokedStmt = db
      .prepare('SELECT id FROM api_tokens WHERE id IN (SELECT value FROM json_each(?)) AND (revoked_at IS NOT NULL OR expires_at <= ?)')
      .pluck();
  }

  async create(input: NewToken): Promise<CreatedToken> {
    const { token, record, hash } = newToken(input, this.clock.now());
    this.db
      .prepare(
        `INSERT INTO api_tokens (id, token_hash, user_id, tenant_id, scopes, label, created_at, expires_at)
         VALUES (@id, @hash, @user, @tenant, @scopes, @label, @now, @expires)`,
      )
      .run({
        id: record.id,
        hash,
        user: record.user,
        tenant: record.tenant,
        scopes: record.scopes.join(' '),
        label: record.label,
        now: record.createdAt,
        expires: record.expiresAt ?? null,
      });
    return { token, record: this.read(record.id)! };
  }

  async get(id: string): Promise<ApiTokenRecord | undefined> {
    return this.read(id);
  }

  async list(opts: { includeRevoked?: boolean } = {}): Promise<ApiTokenRecord[]> {
    const sql = opts.includeRevoked
      ? 'SELECT * FROM api_tokens ORDER BY created_at, id'
      : 'SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, id';
    return this.db.prepare(sql).all().map(toRecord);
  }

  async count(): Promise<number> {
    return this.db.prepare('SELECT count(*) FROM api_tokens').pluck().get() as number;
  }

  async revoke(id: string): Promise<boolean> {
    const res = this.db.prepare('UPDATE api_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL').run({ id, now: this.clock.now() });
    if (res.changes !== 1) return false;
    for (const fn of this.revokeListeners) fn(id);
    return true;
  }

  onRevoked(fn: (tokenId: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  async revokedAmong(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return z.array(z.string()).parse(this.revokedStmt.all(JSON.stringify(ids), this.clock.now()));
  }

  async verify(token: string): Promise<Identity | undefined> {
    const r = this.checkNow(token);
    return r === 'expired' ? undefined : r;
  }

  async check(token: string): Promise<TokenCheck> {
    return this.checkNow(token);
  }

  /** One prepared statement, or none while nothing was committed since; expiry is compared with the injected clock. */
  private checkNow(token: string): TokenCheck {
    if (!mayBeToken(token)) return undefined;
    const hash = hashToken(token);
    // Taken before the read: a commit between the two changes it, so the entry is not used again.
    const version = this.version.read();
    const known = version === undefined ? undefined : this.valid.get(hash);
    let rec: ApiTokenRecord;
    if (known !== undefined && known.version === version) rec = known.rec;
    else {
      const row = this.byHash.get(hash);
      if (row === undefined) {
        this.valid.delete(hash);
        return undefined;
      }
      rec = toRecord(row);
      if (version !== undefined) this.remember(hash, rec, version);
    }
    if (rec.expiresAt !== undefined && this.clock.now() >= rec.expiresAt) return 'expired';
    this.touch(rec);
    // A copy of the scopes: the record may be the remembered one, which no caller may change.
    return { tenant: rec.tenant, user: rec.user, scopes: [...rec.scopes], tokenId: rec.id };
  }

  private remember(hash: string, rec: ApiTokenRecord, version: string): void {
    // Bounded: past the cap it starts again (a hub serves far fewer live tokens).
    if (this.valid.size >= MAX_REMEMBERED && !this.valid.has(hash)) this.valid.clear();
    this.valid.set(hash, { rec, version });
  }

  private read(id: string): ApiTokenRecord | undefined {
    const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id);
    return row === undefined ? undefined : toRecord(row);
  }

  /** last_used_at at minute granularity: a write per request would serialise all calls on the WAL lock. */
  private touch(rec: ApiTokenRecord): void {
    const now = this.clock.now();
    if (rec.lastUsedAt !== null && now - rec.lastUsedAt < 60_000) return;
    try {
      this.touchStmt.run(now, rec.id);
    } catch {
      // Bookkeeping only: a busy database must not fail the request.
    }
  }
}

import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Db } from '../store/db.js';

/** One stored artifact of the authorization server (a client, grant, session, code or token). */
export interface AsRecord {
  /** The library's model name: `Client`, `Grant`, `Session`, `AccessToken`, … */
  model: string;
  /** A hash of the library's id: ids of codes and tokens are the secrets themselves. */
  key: string;
  /** Opaque to the store (the adapter keeps a vault envelope here). */
  payload: string;
  /** Every artifact of one grant is revoked together (RFC 9700 §4.14.2 reuse detection, RFC 7009). */
  grantId?: string | undefined;
  /** A session's uid, hashed: the library also looks sessions up by it. */
  uidKey?: string | undefined;
  /** Epoch ms on the hub's clock; absent: kept until destroyed. */
  expiresAt?: number | undefined;
}

export interface StoredAsRecord extends AsRecord {
  consumedAt?: number;
}

/**
 * Storage of the hub's authorization server, behind an interface so that a PostgreSQL store is a
 * second implementation. Reads return expired rows too: the library checks each artifact's own
 * `exp`, and the adapter decides about registered clients; `purgeExpired` is what deletes them.
 * One contract suite (test/store/contracts/oauth-as.ts) runs against every implementation.
 */
export interface AsRecords {
  /** Inserts or replaces the record (a replaced record is no longer consumed). */
  upsert(record: AsRecord): Promise<void>;
  find(model: string, key: string): Promise<StoredAsRecord | undefined>;
  findByUid(model: string, uidKey: string): Promise<StoredAsRecord | undefined>;
  /** Every record of a model (management lists: grants, clients), expired ones included. */
  list(model: string): Promise<StoredAsRecord[]>;
  /** Every record of a model with this uid key (the grants one hub token signed in). */
  listByUid(model: string, uidKey: string): Promise<StoredAsRecord[]>;
  /**
   * Marks a code or refresh token spent, once: resolves false when there is no such record or it
   * was already spent (another request or process spent it first).
   */
  consume(model: string, key: string, now: number): Promise<boolean>;
  destroy(model: string, key: string): Promise<void>;
  /** Deletes every record of the grant, of every model; resolves how many. */
  revokeGrant(grantId: string): Promise<number>;
  /** Moves a record's expiry (a registered client that was used lives on). */
  extend(model: string, key: string, expiresAt: number): Promise<void>;
  /** Deletes records whose expiry is at or before `now`; resolves how many. */
  purgeExpired(now: number): Promise<number>;
}

const rowSchema = z.object({
  model: z.string(),
  key: z.string(),
  payload: z.string(),
  grant_id: z.string().nullable(),
  uid_key: z.string().nullable(),
  consumed_at: z.number().nullable(),
  expires_at: z.number().nullable(),
});

export function toRecord(row: unknown): StoredAsRecord | undefined {
  if (row === undefined) return undefined;
  const r = rowSchema.parse(row);
  return {
    model: r.model,
    key: r.key,
    payload: r.payload,
    ...(r.grant_id === null ? {} : { grantId: r.grant_id }),
    ...(r.uid_key === null ? {} : { uidKey: r.uid_key }),
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
    ...(r.consumed_at === null ? {} : { consumedAt: r.consumed_at }),
  };
}

/** better-sqlite3 answers synchronously; every method resolves at once. Statements are prepared once: token lookups run on every /mcp request. */
export class SqliteAsRecords implements AsRecords {
  private readonly upsertStmt: Statement;
  private readonly findStmt: Statement;
  private readonly byUidStmt: Statement;

  constructor(private readonly db: Db) {
    this.upsertStmt = db.prepare(
      `INSERT INTO oauth_as_records (model, key, payload, grant_id, uid_key, consumed_at, expires_at)
       VALUES (@model, @key, @payload, @grantId, @uidKey, NULL, @expiresAt)
       ON CONFLICT (model, key) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
         uid_key = excluded.uid_key, consumed_at = NULL, expires_at = excluded.expires_at`,
    );
    this.findStmt = db.prepare('SELECT * FROM oauth_as_records WHERE model = ? AND key = ?');
    this.byUidStmt = db.prepare('SELECT * FROM oauth_as_records WHERE model = ? AND uid_key = ?');
  }

  async upsert(r: AsRecord): Promise<void> {
    this.upsertStmt.run({
      model: r.model,
      key: r.key,
      payload: r.payload,
      grantId: r.grantId ?? null,
      uidKey: r.uidKey ?? null,
      expiresAt: r.expiresAt ?? null,
    });
  }

  async find(model: string, key: string): Promise<StoredAsRecord | undefined> {
    return toRecord(this.findStmt.get(model, key));
  }

  async findByUid(model: string, uidKey: string): Promise<StoredAsRecord | undefined> {
    return toRecord(this.byUidStmt.get(model, uidKey));
  }

  async list(model: string): Promise<StoredAsRecord[]> {
    return this.db
      .prepare('SELECT * FROM oauth_as_records WHERE model = ? ORDER BY key')
      .all(model)
      .map((row) => toRecord(row)!);
  }

  async listByUid(model: string, uidKey: string): Promise<StoredAsRecord[]> {
    return this.db
      .prepare('SELECT * FROM oauth_as_records WHERE model = ? AND uid_key = ?')
      .all(model, uidKey)
      .map((row) => toRecord(row)!);
  }

  async consume(model: string, key: string, now: number): Promise<boolean> {
    // Guarded: of two requests that both read the token unspent, one changes the row.
    return (
      this.db.prepare('UPDATE oauth_as_records SET consumed_at = ? WHERE model = ? AND key = ? AND consumed_at IS NULL').run(now, model, key).changes === 1
    );
  }

  async destroy(model: string, key: string): Promise<void> {
    this.db.prepare('DELETE FROM oauth_as_records WHERE model = ? AND key = ?').run(model, key);
  }

  async revokeGrant(grantId: string): Promise<number> {
    return this.db.prepare('DELETE FROM oauth_as_records WHERE grant_id = ?').run(grantId).changes;
  }

  async extend(model: string, key: string, expiresAt: number): Promise<void> {
    this.db.prepare('UPDATE oauth_as_records SET expires_at = ? WHERE model = ? AND key = ?').run(expiresAt, model, key);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM oauth_as_records WHERE expires_at <= ?').run(now).changes;
  }
}

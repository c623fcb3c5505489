import type { Queryable } from '../store/pg/pool.js';
import { type AsRecord, type AsRecords, type StoredAsRecord, toRecord } from './records.js';

const COLUMNS = 'model, key, payload, grant_id, uid_key, consumed_at, expires_at';
const parse = (row: unknown): StoredAsRecord => toRecord(row)!;

/**
 * The hub's authorization server records on PostgreSQL. A refresh token presented twice may reach
 * two replicas: `consume` is one guarded UPDATE, so one request spends it and the other is refused
 * (and the library treats that as reuse: RFC 9700 §4.14.2).
 */
export class PgAsRecords implements AsRecords {
  constructor(private readonly db: Queryable) {}

  async upsert(r: AsRecord): Promise<void> {
    await this.db.exec(
      `INSERT INTO oauth_as_records (model, key, payload, grant_id, uid_key, consumed_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, NULL, $6)
       ON CONFLICT (model, key) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         uid_key = EXCLUDED.uid_key, consumed_at = NULL, expires_at = EXCLUDED.expires_at`,
      [r.model, r.key, r.payload, r.grantId ?? null, r.uidKey ?? null, r.expiresAt ?? null],
    );
  }

  async find(model: string, key: string): Promise<StoredAsRecord | undefined> {
    return this.db.maybeOne(`SELECT ${COLUMNS} FROM oauth_as_records WHERE model = $1 AND key = $2`, [model, key], parse);
  }

  async findByUid(model: string, uidKey: string): Promise<StoredAsRecord | undefined> {
    // SQLite's `get` takes the first of several rows; maybeOne would fail on a second, so LIMIT 1.
    const rows = await this.db.query(`SELECT ${COLUMNS} FROM oauth_as_records WHERE model = $1 AND uid_key = $2 LIMIT 1`, [model, uidKey], parse);
    return rows[0];
  }

  async list(model: string): Promise<StoredAsRecord[]> {
    // COLLATE "C": keys order byte-wise, as in SQLite, whatever the database's locale.
    return this.db.query(`SELECT ${COLUMNS} FROM oauth_as_records WHERE model = $1 ORDER BY key COLLATE "C"`, [model], parse);
  }

  async listByUid(model: string, uidKey: string): Promise<StoredAsRecord[]> {
    return this.db.query(`SELECT ${COLUMNS} FROM oauth_as_records WHERE model = $1 AND uid_key = $2`, [model, uidKey], parse);
  }

  async consume(model: string, key: string, now: number): Promise<boolean> {
    return (await this.db.exec('UPDATE oauth_as_records SET consumed_at = $3 WHERE model = $1 AND key = $2 AND consumed_at IS NULL', [model, key, now])) === 1;
  }

  async destroy(model: string, key: string): Promise<void> {
    await this.db.exec('DELETE FROM oauth_as_records WHERE model = $1 AND key = $2', [model, key]);
  }

  async revokeGrant(grantId: string): Promise<number> {
    return this.db.exec('DELETE FROM oauth_as_records WHERE grant_id = $1', [grantId]);
  }

  async extend(model: string, key: string, expiresAt: number): Promise<void> {
    await this.db.exec('UPDATE oauth_as_records SET expires_at = $3 WHERE model = $1 AND key = $2', [model, key, expiresAt]);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.db.exec('DELETE FROM oauth_as_records WHERE expires_at <= $1', [now]);
  }
}

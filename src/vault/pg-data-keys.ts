import type { Queryable } from '../store/pg/pool.js';
import { type DataKeyStore, parseDataKey, type WrappedDataKey } from './data-keys.js';

// COLLATE "C": byte order, as SQLite sorts TEXT, whatever collation the database was created with.
const SELECT = 'SELECT id, tenant_id, wrapped, master_id, state FROM vault_data_keys';

/** The PostgreSQL store of data keys: every replica's vault reads and creates them here. */
export class PgDataKeys implements DataKeyStore {
  constructor(private readonly db: Queryable) {}

  async all(): Promise<WrappedDataKey[]> {
    return this.db.query(`${SELECT} ORDER BY tenant_id COLLATE "C", id COLLATE "C"`, [], parseDataKey);
  }

  async create(key: Omit<WrappedDataKey, 'state'>, now: number): Promise<WrappedDataKey> {
    // Replicas creating a tenant's first key at once: the partial unique index (one active key per
    // tenant) makes the later INSERT wait for the earlier one's commit, then do nothing.
    await this.db.exec(
      `INSERT INTO vault_data_keys (id, tenant_id, wrapped, master_id, state, created_at)
       VALUES ($1, $2, $3, $4, 'active', $5) ON CONFLICT DO NOTHING`,
      [key.id, key.tenant, key.wrapped, key.masterId, now],
    );
    // A statement of its own: under READ COMMITTED it sees the key the winner committed, which a
    // CTE in the INSERT's statement (one snapshot) would not.
    const row = await this.db.maybeOne(`${SELECT} WHERE tenant_id = $1 AND state = 'active'`, [key.tenant], (r) => r);
    return parseDataKey(row);
  }

  async rewrap(id: string, fromMaster: string, to: { masterId: string; wrapped: Buffer }, now: number): Promise<boolean> {
    const changed = await this.db.exec('UPDATE vault_data_keys SET wrapped = $1, master_id = $2, rewrapped_at = $3 WHERE id = $4 AND master_id = $5', [
      to.wrapped,
      to.masterId,
      now,
      id,
      fromMaster,
    ]);
    return changed === 1;
  }
}

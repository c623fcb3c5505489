import { z } from 'zod';
import { HubError } from '../errors.js';
import type { Db } from '../store/db.js';

/** A tenant's data key as stored: wrapped (sealed) by the master key whose id it names. */
export interface WrappedDataKey {
  id: string;
  tenant: string;
  wrapped: Buffer;
  masterId: string;
  state: 'active' | 'retired';
}

/**
 * Where the vault keeps its wrapped data keys (STYLE.md §10): Promise-based, so a PostgreSQL
 * implementation is a second class. The vault reads them all at start and keeps them unwrapped in
 * memory; encrypting and decrypting never wait on this store.
 */
export interface DataKeyStore {
  /** Every stored data key, ordered by tenant and id. A row not of the stored shape is a typed error naming it. */
  all(): Promise<WrappedDataKey[]>;
  /**
   * Stores `key` as its tenant's active data key unless the tenant has one already, and returns the
   * tenant's active key: `key`, or the one another process stored first.
   */
  create(key: Omit<WrappedDataKey, 'state'>, now: number): Promise<WrappedDataKey>;
  /** Guarded: replaces the wrapping only while the key is still wrapped by `fromMaster`; true when it did. */
  rewrap(id: string, fromMaster: string, to: { masterId: string; wrapped: Buffer }, now: number): Promise<boolean>;
}

const dataKeyRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  wrapped: z.instanceof(Buffer),
  master_id: z.string(),
  state: z.enum(['active', 'retired']),
});

const SELECT = 'SELECT id, tenant_id, wrapped, master_id, state FROM vault_data_keys';

/** A data key row, or a typed error naming it when the row does not have the shape the vault wrote. */
export function parseDataKey(raw: unknown): WrappedDataKey {
  const r = dataKeyRow.safeParse(raw);
  if (r.success) return { id: r.data.id, tenant: r.data.tenant_id, wrapped: r.data.wrapped, masterId: r.data.master_id, state: r.data.state };
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? String(raw.id) : 'unknown';
  throw new HubError('vault_decrypt_failed', `data key ${id} cannot be read: its row in the database was altered or damaged`, { details: { dataKey: id } });
}

/** The SQLite store of data keys. better-sqlite3 answers synchronously; callers await anyway. */
export class SqliteDataKeys implements DataKeyStore {
  constructor(private readonly db: Db) {}

  async all(): Promise<WrappedDataKey[]> {
    return this.db.prepare(`${SELECT} ORDER BY tenant_id, id`).all().map(parseDataKey);
  }

  async create(key: Omit<WrappedDataKey, 'state'>, now: number): Promise<WrappedDataKey> {
    // Another process may create the tenant's key at the same moment; the partial unique index lets one win.
    this.db
      .prepare(
        `INSERT INTO vault_data_keys (id, tenant_id, wrapped, master_id, state, created_at)
         VALUES (@id, @tenant, @wrapped, @master, 'active', @now) ON CONFLICT DO NOTHING`,
      )
      .run({ id: key.id, tenant: key.tenant, wrapped: key.wrapped, master: key.masterId, now });
    const row = this.db.prepare(`${SELECT} WHERE tenant_id = ? AND state = 'active'`).get(key.tenant);
    return parseDataKey(row);
  }

  async rewrap(id: string, fromMaster: string, to: { masterId: string; wrapped: Buffer }, now: number): Promise<boolean> {
    const res = this.db
      .prepare('UPDATE vault_data_keys SET wrapped = @wrapped, master_id = @master, rewrapped_at = @now WHERE id = @id AND master_id = @from')
      .run({ id, from: fromMaster, master: to.masterId, wrapped: to.wrapped, now });
    return res.changes === 1;
  }
}

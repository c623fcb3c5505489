import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { type CachedLists, type ListCache, readLists } from '../list-cache.js';
import type { PgStore } from './pool.js';

/**
 * The downstream list cache on PostgreSQL. One row per server, as on SQLite: a put drops the rows
 * of the server's other configs. Replicas putting during a config change take a transaction lock
 * on the server first, so their deletes and inserts do not interleave into two rows.
 */
export class PgListCache implements ListCache {
  constructor(
    private readonly store: PgStore,
    private readonly clock: Clock,
  ) {}

  async get(server: string, configHash: string): Promise<CachedLists | undefined> {
    const raw = await this.store.maybeOne('SELECT lists FROM downstream_lists WHERE server = $1 AND config_hash = $2', [server, configHash], (r) =>
      z.string().parse(r.lists),
    );
    return raw === undefined ? undefined : readLists(raw);
  }

  async put(server: string, configHash: string, lists: CachedLists): Promise<void> {
    const now = this.clock.now();
    const json = JSON.stringify(lists);
    await this.store.tx(async (q) => {
      // A transaction-scoped advisory lock, released at COMMIT; hashtextextended keys it by server.
      await q.query(`SELECT pg_advisory_xact_lock(hashtextextended('downstream_lists:' || $1, 0))`, [server]);
      await q.exec('DELETE FROM downstream_lists WHERE server = $1 AND config_hash <> $2', [server, configHash]);
      await q.exec(
        `INSERT INTO downstream_lists (server, config_hash, lists, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (server, config_hash) DO UPDATE SET lists = EXCLUDED.lists, updated_at = EXCLUDED.updated_at`,
        [server, configHash, json, now],
      );
    });
  }
}

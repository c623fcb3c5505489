import type { Clock } from '../clock.js';
import type { Queryable } from '../store/pg/pool.js';
import { claimable, type DueFilter, type OwnerIsDead, type PollerKey, type PollerRow, type PollerStore, type RunRecord, rowOf } from './store.js';

const COLUMNS = `connection_id, feed, integration, cursor, interval_ms, next_run_at, empty_polls, failures, stuck_pages, state, reason,
  paused_until, last_error, last_poll_at, last_event_at, events_total, lease_owner, lease_until, updated_at`;
/** Byte-wise, as SQLite orders text, whatever the database's locale. */
const ORDER = 'ORDER BY integration COLLATE "C", connection_id COLLATE "C", feed COLLATE "C"';

/**
 * Pollers on PostgreSQL. Every replica runs a scheduler over the same rows: `due` is a hint read
 * without locks, and `claim` is the one guarded UPDATE that decides (the lease condition is
 * re-checked on the row as the winner committed it), so one replica polls a feed at a time; a run
 * is recorded only while its owner still holds the lease.
 */
export class PgPollerStore implements PollerStore {
  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  async ensure(key: PollerKey, integration: string): Promise<void> {
    await this.db.exec(
      `INSERT INTO pollers (connection_id, feed, integration, next_run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $4, $4)
       ON CONFLICT (connection_id, feed) DO NOTHING`,
      [key.connectionId, key.feed, integration, this.clock.now()],
    );
  }

  async due(limit: number, dead?: OwnerIsDead, only?: DueFilter): Promise<PollerKey[]> {
    const now = this.clock.now();
    const rows =
      only === undefined
        ? await this.db.query(
            `SELECT connection_id, feed, lease_owner, lease_until FROM pollers WHERE next_run_at <= $1 ORDER BY next_run_at LIMIT $2`,
            [now, limit],
            (r) => r,
          )
        : await this.db.query(
            `SELECT connection_id, feed, lease_owner, lease_until FROM pollers p WHERE next_run_at <= $1
               AND (integration, feed) IN (SELECT * FROM unnest($3::text[], $4::text[]))
               AND EXISTS (SELECT 1 FROM connections c WHERE c.id = p.connection_id AND c.state = 'active')
             ORDER BY next_run_at LIMIT $2`,
            [now, limit, only.feeds.map((f) => f.integration), only.feeds.map((f) => f.feed)],
            (r) => r,
          );
    return claimable(rows, now, dead);
  }

  async claim(key: PollerKey, owner: string, leaseMs: number, dead?: OwnerIsDead): Promise<PollerRow | undefined> {
    const now = this.clock.now();
    const held = dead === undefined ? undefined : (await this.get(key))?.leaseOwner;
    const deadOwner = held !== undefined && held !== null && held !== owner && dead!(held) ? held : null;
    return this.db.maybeOne(
      `UPDATE pollers SET lease_owner = $3, lease_until = $4, last_poll_at = $5, updated_at = $5
       WHERE connection_id = $1 AND feed = $2 AND next_run_at <= $5 AND (lease_owner IS NULL OR lease_until <= $5 OR lease_owner = $6)
       RETURNING ${COLUMNS}`,
      [key.connectionId, key.feed, owner, now + leaseMs, now, deadOwner],
      rowOf,
    );
  }

  async finish(key: PollerKey, owner: string, run: RunRecord): Promise<boolean> {
    const changed = await this.db.exec(
      `UPDATE pollers SET interval_ms = $4, next_run_at = $5, empty_polls = $6, failures = $7, stuck_pages = $8, state = $9, reason = $10,
         paused_until = $11, last_error = $12, events_total = events_total + $13,
         last_event_at = CASE WHEN $13 > 0 THEN $14 ELSE last_event_at END,
         lease_owner = NULL, lease_until = NULL, updated_at = $14
       WHERE connection_id = $1 AND feed = $2 AND lease_owner = $3`,
      [
        key.connectionId,
        key.feed,
        owner,
        run.intervalMs,
        run.nextRunAt,
        run.emptyPolls,
        run.failures,
        run.stuckPages,
        run.state,
        run.reason,
        run.pausedUntil,
        run.lastError,
        run.stored,
        this.clock.now(),
      ],
    );
    return changed === 1;
  }

  async get(key: PollerKey): Promise<PollerRow | undefined> {
    return this.db.maybeOne(`SELECT ${COLUMNS} FROM pollers WHERE connection_id = $1 AND feed = $2`, [key.connectionId, key.feed], rowOf);
  }

  async list(filter: { connectionIds?: readonly string[] } = {}): Promise<PollerRow[]> {
    if (filter.connectionIds === undefined) return this.db.query(`SELECT ${COLUMNS} FROM pollers ${ORDER}`, [], rowOf);
    return this.db.query(`SELECT ${COLUMNS} FROM pollers WHERE connection_id = ANY($1::text[]) ${ORDER}`, [filter.connectionIds], rowOf);
  }
}

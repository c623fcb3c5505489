import type { PgStore, Queryable } from '../store/pg/pool.js';
import type { BucketRef } from './pacing/shared.js';
import {
  type BucketOp,
  bucketRowSchema,
  bucketTimes,
  expiresAt,
  loaded,
  PURGE_EVERY_MS,
  prepared,
  type SharedBucketOptions,
  type SharedBucketState,
  SteppedBuckets,
} from './pacing/shared-state.js';

const COLUMNS = ['tk', 'ts', 'pu', 'r', 'c', 'b', 'h', 'fs', 'dr', 'db'] as const;

/**
 * Token buckets in PostgreSQL, shared by every replica on the database when there is no Redis
 * (with Redis the buckets live there: src/outbox/redis/). Each step is one transaction that makes
 * any missing bucket, locks the step's rows in key order (so two steps on the same pair cannot
 * deadlock), and saves them. Time is the database server's, as Redis's own for the Redis buckets:
 * replicas on machines whose clocks differ still agree on how much has accrued.
 */
export class PgBuckets extends SteppedBuckets {
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private purgedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly pg: PgStore,
    opts: SharedBucketOptions = {},
  ) {
    super();
    ({ ttlMs: this.ttlMs, graceMs: this.graceMs } = bucketTimes(opts));
  }

  /** The database server's time, epoch ms. */
  private now(q: Queryable): Promise<number> {
    return q.one('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now', [], (r) => Number(r.now));
  }

  protected step<T>(refs: readonly BucketRef[], op: BucketOp<T>): Promise<T> {
    return this.pg.tx(async (q) => {
      const made = await this.now(q);
      const ordered = [...refs].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
      for (const ref of ordered) {
        const s = loaded(undefined, ref.spec, made);
        await q.exec(
          `INSERT INTO pace_buckets (key, ${COLUMNS.join(', ')}, expires_at) VALUES ($1, ${COLUMNS.map((_, i) => `$${i + 2}`).join(', ')}, $12)
           ON CONFLICT (key) DO NOTHING`,
          [ref.key, ...COLUMNS.map((c) => s[c]), expiresAt(s, made, this.ttlMs)],
        );
      }
      const rows = await q.query(
        `SELECT key, ${COLUMNS.join(', ')} FROM pace_buckets WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE`,
        [ordered.map((r) => r.key)],
        (r) => ({ key: String(r.key), state: bucketRowSchema.parse(r) }),
      );
      // Read once the rows are ours: a time read before waiting for another step's lock would be
      // older than what that step saved, and the refill would count the same span twice.
      const now = await this.now(q);
      const byKey = new Map<string, SharedBucketState>(rows.map((r) => [r.key, r.state]));
      const all = prepared(
        refs.map((r) => byKey.get(r.key)),
        refs,
        now,
        this.graceMs,
      );
      const { save, out } = op(all, now);
      if (save) {
        for (const [i, s] of all.entries()) {
          await q.exec(`UPDATE pace_buckets SET ${COLUMNS.map((c, j) => `${c} = $${j + 2}`).join(', ')}, expires_at = $12 WHERE key = $1`, [
            refs[i]!.key,
            ...COLUMNS.map((c) => s[c]),
            expiresAt(s, now, this.ttlMs),
          ]);
        }
      }
      if (now - this.purgedAt >= PURGE_EVERY_MS) {
        this.purgedAt = now;
        await q.exec('DELETE FROM pace_buckets WHERE expires_at < $1', [Math.floor(now)]);
      }
      return out;
    });
  }
}

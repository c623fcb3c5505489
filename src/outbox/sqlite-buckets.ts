import type { Statement } from 'better-sqlite3';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { BucketRef } from './pacing/shared.js';
import {
  type BucketOp,
  bucketRowSchema,
  bucketTimes,
  expiresAt,
  prepared,
  PURGE_EVERY_MS,
  type SharedBucketOptions,
  type SharedBucketState,
  SteppedBuckets,
} from './pacing/shared-state.js';

/**
 * Token buckets in the SQLite file, shared by every process on one data dir (a `stdio` beside a
 * `serve`, or two `serve`): each process also paces with its own in-process buckets, and a request
 * goes once both grant it, so together the processes keep to the declared rate. Each step is one
 * `BEGIN IMMEDIATE` transaction (the write lock first, so two processes' read-modify-writes never
 * interleave), on the same arithmetic as the Redis script (pacing/shared-state.ts). Time is the
 * injected clock's: every process on one machine reads the same one.
 */
export class SqliteBuckets extends SteppedBuckets {
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly read: Statement;
  private readonly write: Statement;
  private readonly purge: Statement;
  private purgedAt = Number.NEGATIVE_INFINITY;
  private readonly run: (refs: readonly BucketRef[], op: BucketOp<unknown>) => unknown;

  constructor(
    db: Db,
    private readonly clock: Clock,
    opts: SharedBucketOptions = {},
  ) {
    super();
    ({ ttlMs: this.ttlMs, graceMs: this.graceMs } = bucketTimes(opts));
    this.read = db.prepare('SELECT tk, ts, pu, r, c, b, h, fs, dr, db FROM pace_buckets WHERE key = ?');
    this.write = db.prepare(
      `INSERT INTO pace_buckets (key, tk, ts, pu, r, c, b, h, fs, dr, db, expires_at)
       VALUES (@key, @tk, @ts, @pu, @r, @c, @b, @h, @fs, @dr, @db, @expires)
       ON CONFLICT (key) DO UPDATE SET tk = @tk, ts = @ts, pu = @pu, r = @r, c = @c, b = @b, h = @h, fs = @fs, dr = @dr, db = @db, expires_at = @expires`,
    );
    this.purge = db.prepare('DELETE FROM pace_buckets WHERE expires_at < ?');
    const tx = db.transaction((refs: readonly BucketRef[], op: BucketOp<unknown>) => {
      const now = this.clock.now();
      const stored = refs.map((ref): SharedBucketState | undefined => {
        const raw: unknown = this.read.get(ref.key);
        return raw === undefined ? undefined : bucketRowSchema.parse(raw);
      });
      const all = prepared(stored, refs, now, this.graceMs);
      const { save, out } = op(all, now);
      if (save) {
        all.forEach((s, i) => {
          this.write.run({ key: refs[i]!.key, ...s, expires: expiresAt(s, now, this.ttlMs) });
        });
      }
      if (now - this.purgedAt >= PURGE_EVERY_MS) {
        this.purgedAt = now;
        this.purge.run(now);
      }
      return out;
    });
    this.run = (refs, op) => tx.immediate(refs, op);
  }

  protected async step<T>(refs: readonly BucketRef[], op: BucketOp<T>): Promise<T> {
    return this.run(refs, op) as T;
  }
}

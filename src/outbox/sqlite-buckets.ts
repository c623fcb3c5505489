import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { BucketState } from './pacing/bucket.js';
import type { Adjustment, BucketRef, SharedBuckets, Take } from './pacing/shared.js';
import { loaded, observed, refilled, type SharedBucketState, waitOf } from './pacing/shared-state.js';

export interface SqliteBucketOptions {
  /** How long an untouched bucket is kept (default 1 h); one recreated full is the same bucket. */
  ttlMs?: number;
  /** Refill starts at the first answer, or this long after the bucket was made (default 5 s). */
  graceMs?: number;
}

const rowSchema = z.object({
  tk: z.number(),
  ts: z.number(),
  pu: z.number(),
  r: z.number(),
  c: z.number(),
  b: z.number(),
  h: z.number(),
  fs: z.number(),
  dr: z.number(),
  db: z.number(),
});

/** Expired buckets are deleted at most this often, by whichever take comes first after it. */
const PURGE_EVERY_MS = 60_000;

/**
 * Token buckets in the SQLite file, shared by every process on one data dir (a `stdio` beside a
 * `serve`, or two `serve`): each process also paces with its own in-process buckets, and a request
 * goes once both grant it, so together the processes keep to the declared rate. Each operation is
 * one `BEGIN IMMEDIATE` transaction (the write lock first, so two processes' read-modify-writes
 * never interleave), on the same arithmetic as the Redis script (pacing/shared-state.ts). Time is
 * the injected clock's: every process on one machine reads the same one.
 */
export class SqliteBuckets implements SharedBuckets {
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly read: Statement;
  private readonly write: Statement;
  private readonly purge: Statement;
  private purgedAt = Number.NEGATIVE_INFINITY;
  private readonly step: <T>(refs: readonly BucketRef[], op: (all: SharedBucketState[], now: number) => { save: boolean; out: T }) => T;

  constructor(
    db: Db,
    private readonly clock: Clock,
    opts: SqliteBucketOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 3_600_000;
    this.graceMs = opts.graceMs ?? 5_000;
    this.read = db.prepare('SELECT tk, ts, pu, r, c, b, h, fs, dr, db FROM pace_buckets WHERE key = ?');
    this.write = db.prepare(
      `INSERT INTO pace_buckets (key, tk, ts, pu, r, c, b, h, fs, dr, db, expires_at)
       VALUES (@key, @tk, @ts, @pu, @r, @c, @b, @h, @fs, @dr, @db, @expires)
       ON CONFLICT (key) DO UPDATE SET tk = @tk, ts = @ts, pu = @pu, r = @r, c = @c, b = @b, h = @h, fs = @fs, dr = @dr, db = @db, expires_at = @expires`,
    );
    this.purge = db.prepare('DELETE FROM pace_buckets WHERE expires_at < ?');
    const tx = db.transaction((refs: readonly BucketRef[], op: (all: SharedBucketState[], now: number) => { save: boolean; out: unknown }) => {
      const now = this.clock.now();
      const all = refs.map((ref) => {
        const raw: unknown = this.read.get(ref.key);
        const s = loaded(raw === undefined ? undefined : rowSchema.parse(raw), ref.spec, now);
        refilled(s, now, this.graceMs);
        return s;
      });
      const { save, out } = op(all, now);
      if (save) {
        // An idle bucket is forgotten; a paused one not before its pause ends.
        all.forEach((s, i) => {
          this.write.run({ key: refs[i]!.key, ...s, expires: Math.ceil(now + this.ttlMs + Math.max(0, s.pu - now)) });
        });
      }
      if (now - this.purgedAt >= PURGE_EVERY_MS) {
        this.purgedAt = now;
        this.purge.run(now);
      }
      return out;
    });
    this.step = (refs, op) => tx.immediate(refs, op) as never;
  }

  async take(refs: readonly BucketRef[]): Promise<Take> {
    return this.step(refs, (all, now) => {
      const wait = Math.max(0, ...all.map((s) => waitOf(s, now)));
      if (wait === 0) for (const s of all) s.tk -= 1;
      return { save: true, out: wait === 0 ? { granted: true } : { granted: false, waitMs: Math.max(1, Math.ceil(wait)) } };
    });
  }

  async refund(refs: readonly BucketRef[]): Promise<void> {
    this.step(refs, (all) => {
      for (const s of all) s.tk = Math.min(s.c, s.tk + 1);
      return { save: true, out: undefined };
    });
  }

  async observe(refs: readonly BucketRef[], adj: Adjustment = {}): Promise<number> {
    return this.step(refs, (all, now) => {
      observed(all, adj, now);
      return { save: true, out: Math.floor(all[0]?.pu ?? 0) };
    });
  }

  async state(refs: readonly BucketRef[]): Promise<(BucketState & { tokens: number })[]> {
    return this.step(refs, (all) => ({
      save: false,
      out: all.map((s) => ({ tokens: s.tk, perSecond: s.r, capacity: s.c, pausedUntil: s.pu })),
    }));
  }
}

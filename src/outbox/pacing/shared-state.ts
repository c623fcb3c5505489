import { z } from 'zod';
import type { BucketSpec, BucketState } from './bucket.js';
import type { Adjustment, BucketRef, SharedBuckets, Take } from './shared.js';

/**
 * One shared bucket's stored state, and the steps every operation takes on it: the arithmetic of
 * the Redis script (src/outbox/redis/bucket-script.ts), for stores that run it in a transaction
 * of their own instead (SQLite, PostgreSQL). They must agree; the field names are the script's.
 */
export interface SharedBucketState {
  /** Tokens at hand (fractional). */
  tk: number;
  /** Last refill, epoch ms. */
  ts: number;
  /** Paused until, epoch ms (0: not paused). */
  pu: number;
  /** Rate per second and capacity in force (after live adjustment). */
  r: number;
  c: number;
  /** The first X-RateLimit-Limit seen (0: none yet), the baseline live adjustment scales by. */
  b: number;
  /** Whether any answer was heard (1) or not (0). */
  h: number;
  /** When the bucket was made, epoch ms. */
  fs: number;
  /** The declared rate and burst it was made from. */
  dr: number;
  db: number;
}

/** The same holdback as the in-process bucket (bucket.ts `capOf`). */
export function capOf(burst: number): number {
  if (burst <= 1) return 1;
  return Math.max(burst - 2, Math.ceil(burst / 2), 1);
}

/** A stored bucket (or a new one, full) as the declared spec wants it now. */
export function loaded(stored: SharedBucketState | undefined, spec: BucketSpec, now: number): SharedBucketState {
  if (stored === undefined) {
    const c = capOf(spec.burst);
    return { tk: c, ts: now, pu: 0, r: spec.perSecond, c, b: 0, h: 0, fs: now, dr: spec.perSecond, db: spec.burst };
  }
  const s = { ...stored };
  if (s.dr !== spec.perSecond || s.db !== spec.burst) {
    // The declared bucket changed (a config reload): live adjustment starts again from it.
    s.dr = spec.perSecond;
    s.db = spec.burst;
    s.r = spec.perSecond;
    s.c = capOf(spec.burst);
    s.b = 0;
    s.tk = Math.min(s.tk, s.c);
  }
  return s;
}

/**
 * Brought to `now`. Nothing accrues until the first answer is heard, or until `graceMs` after the
 * bucket was made, so a process that died holding the first grants cannot stall the others.
 */
export function refilled(s: SharedBucketState, now: number, graceMs: number): void {
  if (now < s.pu) {
    s.tk = 0;
    s.ts = s.pu;
    return;
  }
  // A clock set back (the machine's, between two processes' steps) must not stall the bucket until it catches up.
  if (s.ts > now) s.ts = now;
  if (s.h === 0) {
    if (now - s.fs >= graceMs) s.h = 1;
    s.ts = now;
    return;
  }
  s.tk = Math.min(s.c, s.tk + ((now - s.ts) * s.r) / 1000);
  s.ts = now;
}

/** Milliseconds until the bucket holds a whole token (0: it does). */
export function waitOf(s: SharedBucketState, now: number): number {
  if (s.tk >= 1) return 0;
  let w = ((1 - s.tk) * 1000) / s.r;
  if (now < s.pu) w += s.pu - now;
  return w;
}

/** Marks every bucket heard (refilling from now on); `adj` applies to the first. */
export function observed(all: SharedBucketState[], adj: Adjustment, now: number): void {
  for (const s of all) {
    if (s.h === 0) {
      s.h = 1;
      s.ts = now;
    }
  }
  const s = all[0];
  if (s === undefined) return;
  if (adj.pauseMs !== undefined && Number.isFinite(adj.pauseMs) && adj.pauseMs > 0 && now + adj.pauseMs > s.pu) {
    s.pu = now + adj.pauseMs;
    s.tk = 0;
    s.ts = s.pu;
  }
  if (adj.limit !== undefined && Number.isFinite(adj.limit) && adj.limit > 0) {
    if (s.b === 0) s.b = adj.limit;
    const factor = Math.min(1, adj.limit / s.b);
    const rate = s.dr * factor;
    if (rate !== s.r) {
      s.r = rate;
      s.c = capOf(Math.max(1, Math.floor(s.db * factor + 0.5)));
      s.tk = Math.min(s.tk, s.c);
    }
  }
  if (adj.atMost !== undefined && Number.isFinite(adj.atMost)) s.tk = Math.min(s.tk, Math.max(0, Math.floor(adj.atMost)));
}

export interface SharedBucketOptions {
  /** How long an untouched bucket is kept (default 1 h); one recreated full is the same bucket. */
  ttlMs?: number;
  /** Refill starts at the first answer, or this long after the bucket was made (default 5 s). */
  graceMs?: number;
}

/** The options with their defaults, as every store of shared buckets reads them. */
export function bucketTimes(opts: SharedBucketOptions = {}): Required<SharedBucketOptions> {
  return { ttlMs: opts.ttlMs ?? 3_600_000, graceMs: opts.graceMs ?? 5_000 };
}

export const bucketRowSchema = z.object({
  tk: z.coerce.number(),
  ts: z.coerce.number(),
  pu: z.coerce.number(),
  r: z.coerce.number(),
  c: z.coerce.number(),
  b: z.coerce.number(),
  h: z.coerce.number(),
  fs: z.coerce.number(),
  dr: z.coerce.number(),
  db: z.coerce.number(),
});

/** Expired buckets are deleted at most this often, by whichever step comes first after it (either store). */
export const PURGE_EVERY_MS = 60_000;

/** One operation on the buckets of a step, loaded and refilled to `now`: whether to save them, and its answer. */
export type BucketOp<T> = (all: SharedBucketState[], now: number) => { save: boolean; out: T };

/** Each stored bucket (or a new one) as the declared spec wants it, refilled to `now`. */
export function prepared(stored: readonly (SharedBucketState | undefined)[], refs: readonly BucketRef[], now: number, graceMs: number): SharedBucketState[] {
  return refs.map((ref, i) => {
    const s = loaded(stored[i], ref.spec, now);
    refilled(s, now, graceMs);
    return s;
  });
}

/** When a bucket saved at `now` may be forgotten: idle for `ttlMs`, and never before its pause ends. */
export function expiresAt(s: SharedBucketState, now: number, ttlMs: number): number {
  return Math.ceil(now + ttlMs + Math.max(0, s.pu - now));
}

/**
 * The shared buckets' operations on any store that can run a step atomically: `step` loads the
 * buckets of `refs` under a lock (prepared to its now), runs `op`, and saves them when it says so.
 */
export abstract class SteppedBuckets implements SharedBuckets {
  protected abstract step<T>(refs: readonly BucketRef[], op: BucketOp<T>): Promise<T>;

  take(refs: readonly BucketRef[]): Promise<Take> {
    return this.step(refs, (all, now) => {
      const wait = Math.max(0, ...all.map((s) => waitOf(s, now)));
      if (wait === 0) for (const s of all) s.tk -= 1;
      return { save: true, out: wait === 0 ? { granted: true } : { granted: false, waitMs: Math.max(1, Math.ceil(wait)) } };
    });
  }

  async refund(refs: readonly BucketRef[]): Promise<void> {
    await this.step(refs, (all) => {
      for (const s of all) s.tk = Math.min(s.c, s.tk + 1);
      return { save: true, out: undefined };
    });
  }

  observe(refs: readonly BucketRef[], adj: Adjustment = {}): Promise<number> {
    return this.step(refs, (all, now) => {
      observed(all, adj, now);
      return { save: true, out: Math.floor(all[0]?.pu ?? 0) };
    });
  }

  state(refs: readonly BucketRef[]): Promise<(BucketState & { tokens: number })[]> {
    return this.step(refs, (all) => ({
      save: false,
      out: all.map((s) => ({ tokens: s.tk, perSecond: s.r, capacity: s.c, pausedUntil: s.pu })),
    }));
  }
}

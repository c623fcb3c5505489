import { z } from 'zod';
import type { BucketState } from '../pacing/index.js';
import type { Adjustment, BucketRef, SharedBuckets, Take } from '../pacing/shared.js';
import { bucketTimes, type SharedBucketOptions } from '../pacing/shared-state.js';
import type { RedisHandle } from '../../store/redis/client.js';
import { BUCKET_SCRIPT } from './bucket-script.js';
import { LuaScript } from '../../store/redis/eval.js';

/** The same options as the store's buckets (their defaults too: bucketTimes). */
export type RedisBucketOptions = SharedBucketOptions;

const takeReply = z.tuple([z.number(), z.number()]);
const observeReply = z.tuple([z.number()]);
const stateReply = z.array(z.string());

/**
 * Token buckets shared by every replica, one Redis hash each (the script: bucket-script.ts).
 * Each call is one atomic script run, on one or two buckets at once.
 */
export class RedisBuckets implements SharedBuckets {
  private readonly script: LuaScript;
  private readonly ttlMs: number;
  private readonly graceMs: number;

  constructor(h: RedisHandle, opts: RedisBucketOptions = {}) {
    this.script = new LuaScript(h, BUCKET_SCRIPT, 'token bucket');
    ({ ttlMs: this.ttlMs, graceMs: this.graceMs } = bucketTimes(opts));
  }

  private run(op: string, refs: readonly BucketRef[], extra: readonly (string | number)[] = []): Promise<unknown> {
    const declared = refs.flatMap((r) => [r.spec.perSecond, r.spec.burst]);
    return this.script.run(
      refs.map((r) => r.key),
      [op, this.ttlMs, this.graceMs, ...declared, ...extra],
    );
  }

  /** One token from every bucket given, or none and how long until all of them have one. */
  async take(refs: readonly BucketRef[]): Promise<Take> {
    const [granted, waitMs] = takeReply.parse(await this.run('take', refs));
    return granted === 1 ? { granted: true } : { granted: false, waitMs };
  }

  /** Gives back a token `take` granted to a caller that went away before using it. */
  async refund(refs: readonly BucketRef[]): Promise<void> {
    await this.run('refund', refs);
  }

  /**
   * A request was answered: every bucket given starts refilling (if it had not), and `adj`
   * applies to the first one. Returns the first bucket's pause end (Redis epoch ms; 0: none).
   */
  async observe(refs: readonly BucketRef[], adj: Adjustment = {}): Promise<number> {
    const arg = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '' : n);
    const [pausedUntil] = observeReply.parse(await this.run('observe', refs, [arg(adj.pauseMs), arg(adj.atMost), arg(adj.limit)]));
    return pausedUntil;
  }

  /** Each bucket as it stands now, refilled to Redis's present. */
  async state(refs: readonly BucketRef[]): Promise<(BucketState & { tokens: number })[]> {
    const flat = stateReply.parse(await this.run('state', refs)).map(Number);
    return refs.map((_, i) => {
      const [tokens, perSecond, capacity, pausedUntil] = flat.slice(i * 4, i * 4 + 4) as [number, number, number, number];
      return { tokens, perSecond, capacity, pausedUntil };
    });
  }
}

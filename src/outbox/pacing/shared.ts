import type { Clock } from '../../clock.js';
import { type PacedAnswer, PacingTooLong } from '../../providers/pacing.js';
import { rateBudgetOf, rateLimitPool, sforceBudgetOf, spentUntil } from '../../providers/rate-headers.js';
import { retryAfterMs } from '../../providers/retry.js';
import type { BucketSpec, BucketState, Timers } from './bucket.js';

/** The app bucket of `<integration>:app`, a connection's of `<integration>:<connection id>`. */
export const APP = 'app';

/** A pace key's integration and connection (`app` for calls made as the app). */
export function splitKey(key: string): { integration: string; connection: string } {
  const i = key.indexOf(':');
  return i < 0 ? { integration: key, connection: APP } : { integration: key.slice(0, i), connection: key.slice(i + 1) };
}

/**
 * Token buckets several processes take from (Redis for replicas, the SQLite file for processes
 * sharing one data dir): each call is one atomic step on one or two buckets at once.
 */
export interface SharedBuckets {
  /** One token from every bucket given, or none and how long until all of them have one. */
  take(refs: readonly BucketRef[]): Promise<Take>;
  /** Gives back a token `take` granted to a caller that went away before using it. */
  refund(refs: readonly BucketRef[]): Promise<void>;
  /**
   * A request was answered: every bucket given starts refilling (if it had not), and `adj`
   * applies to the first one. Returns the first bucket's pause end (epoch ms; 0: none).
   */
  observe(refs: readonly BucketRef[], adj?: Adjustment): Promise<number>;
  /** Each bucket as it stands now, refilled to the present. */
  state(refs: readonly BucketRef[]): Promise<(BucketState & { tokens: number })[]>;
}

/** A shared bucket: its full key and the bucket the config declares for it. */
export interface BucketRef {
  key: string;
  spec: BucketSpec;
}

export type Take = { granted: true } | { granted: false; waitMs: number };

/** What a provider's answer says about the bucket that answered it. */
export interface Adjustment {
  /** Retry-After, relative: every process holds off this long, measured on the buckets' clock. */
  pauseMs?: number;
  /** Never more tokens at hand than this (X-RateLimit-Remaining less the requests in flight). */
  atMost?: number;
  /** X-RateLimit-Limit: the declared bucket is scaled by limit ÷ the first limit seen, never above it. */
  limit?: number;
}

/**
 * What an answer says of the bucket that answered it, read alike by the in-process pacer
 * (src/outbox/pacing/pacer.ts `observe`) and the shared buckets. `inflight`: requests this process let through under the bucket
 * and not yet answered, which will spend from what the provider says remains.
 */
export function adjustmentOf(answer: PacedAnswer, inflight: number, clock: Clock): Adjustment {
  const adj: Adjustment = {};
  // A budget of another pool than the one the bucket paces speaks of that pool alone (rateLimitPool).
  const pool = rateLimitPool(answer.headers);
  const own = pool !== 'apart';
  // RFC 6585 §4 / RFC 9110 §10.2.3: a 429 or 503 with Retry-After says when to come back; so
  // does a 403 with one (GitHub's secondary rate limit), or whose body names the wait.
  if (answer.status === 429 || answer.status === 503 || answer.status === 403) {
    const wait = retryAfterMs(answer.headers, clock) ?? answer.bodyWaitMs;
    if (wait !== undefined) adj.pauseMs = wait;
    // Without one, what is at hand was evidently too much: spend nothing until the next refill.
    else if (answer.status === 429 && own) adj.atMost = 0;
  }
  if (!own) return adj;
  const budget = rateBudgetOf(answer.headers, clock) ?? sforceBudgetOf(answer.headers);
  if (budget !== undefined) {
    // A pool's size is no change of the bucket's limit: only the paced pool's Limit scales it.
    if (pool === 'paced') adj.limit = budget.limit;
    const left = budget.remaining - inflight;
    adj.atMost = Math.min(adj.atMost ?? left, left);
    // A spent window stays spent until its reset (see the in-process pacer).
    const now = clock.now();
    if (budget.remaining <= 0 && budget.resetAt !== undefined && budget.resetAt > now) adj.pauseMs = Math.max(adj.pauseMs ?? 0, budget.resetAt - now);
  } else {
    const until = spentUntil(answer.headers, clock);
    const now = clock.now();
    if (until !== undefined && until > now) adj.pauseMs = Math.max(adj.pauseMs ?? 0, until - now);
  }
  return adj;
}

/** Resolves after `ms`, or rejects with the signal's reason at once when it aborts. */
export function sleep(ms: number, signal: AbortSignal, timers: Timers): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      timers.clearTimeout(handle);
      reject(signal.reason);
    };
    const handle = timers.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Takes a token of every bucket given, asking again as long as the buckets say to wait. A caller
 * that leaves while a take is under way gets the token given back (it was not spent). With
 * `withinMs`, a wait longer than that rejects at once with a PacingTooLong naming it.
 */
export async function takeShared(buckets: SharedBuckets, refs: readonly BucketRef[], signal: AbortSignal, timers: Timers, withinMs?: number): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const t = await buckets.take(refs);
    if (t.granted) {
      if (signal.aborted) {
        await buckets.refund(refs).catch(() => {});
        signal.throwIfAborted();
      }
      return;
    }
    if (withinMs !== undefined && t.waitMs > withinMs) throw new PacingTooLong(t.waitMs);
    await sleep(t.waitMs, signal, timers);
  }
}

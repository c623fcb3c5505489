import type { Clock } from '../../src/clock.js';

export interface RateLimitOptions {
  /** Tokens added to a bucket per second. */
  perSecond: number;
  /** Bucket size: the most requests allowed back to back. */
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch seconds at which the bucket is full again. */
  resetAt: number;
  /** Seconds until one request is allowed; 0 when allowed now. */
  retryAfter: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Drop full buckets once the map holds this many, so idle tokens do not pile up. */
const PRUNE_AT = 10_000;

/** One token bucket per key, refilled continuously from the injected clock. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly clock: Clock,
  ) {}

  take(key: string): RateDecision {
    const { perSecond, burst } = this.opts;
    const now = this.clock.now();
    const b = this.refill(this.buckets.get(key) ?? { tokens: burst, at: now }, now);
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    if (!this.buckets.has(key) && this.buckets.size >= PRUNE_AT) this.prune(now);
    this.buckets.set(key, b);
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(b.tokens),
      resetAt: Math.ceil((now + ((burst - b.tokens) * 1000) / perSecond) / 1000),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / perSecond)),
    };
  }

  private refill(b: Bucket, now: number): Bucket {
    // Milliseconds times rate before dividing keeps whole steps exact (200 ms at 5/s is 1 token).
    const tokens = Math.min(this.opts.burst, b.tokens + (Math.max(0, now - b.at) * this.opts.perSecond) / 1000);
    return { tokens, at: now };
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) if (this.refill(b, now).tokens >= this.opts.burst) this.buckets.delete(key);
  }
}

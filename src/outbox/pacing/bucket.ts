import type Bottleneck from 'bottleneck';
import type { Clock } from '../../clock.js';
import { lazyRequire } from '../../lazy-require.js';

/** bottleneck (CommonJS, ~17 ms to load) loads with the first bucket, not before the stdio face's first answer. */
const bottleneck = lazyRequire<typeof Bottleneck>('bottleneck');

/** Timers a test can replace; production uses the global ones. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A bucket waiting to refill must not keep a finished process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BucketSpec {
  perSecond: number;
  burst: number;
}

/** A bucket as it stands: its rate and capacity after live adjustment, and any pause (epoch ms). */
export interface BucketState {
  perSecond: number;
  capacity: number;
  pausedUntil: number;
}

/** Gives a slot back: once the answer is in (the concurrency slot), idempotent. */
export type Release = () => void;

/**
 * One token bucket. bottleneck holds the queue, the `reservoir` (tokens available now) and
 * `maxConcurrent`; the refill is ours. bottleneck's own `reservoirIncreaseInterval` adds a fixed
 * amount per heartbeat tick and measures the next tick from the late one, so every late tick
 * loses time (a 2 % slower rate at a 50 ms heartbeat) and rates above 1/heartbeat come in lumps
 * the provider's own bucket refuses. Here the tokens accrue from elapsed time on the injected
 * clock, so a late timer delivers what accrued meanwhile and the average rate is exact.
 */
export class TokenBucket {
  private readonly limiter: Bottleneck;
  private rate: number;
  private cap: number;
  /** Fraction of a token accrued since the last whole one. */
  private acc = 0;
  private last: number;
  private pausedUntil = 0;
  private timer: unknown;
  private refilling = false;
  /** Granted and not yet released: requests whose answer has not come. */
  inflight = 0;
  /** The first `X-RateLimit-Limit` seen; later ones scale the declared bucket by limit ÷ this. */
  private baseline: number | undefined;
  /** Whether any request it granted has been answered: until then nothing accrues (see `answered`). */
  private heard = false;
  /** When it was made: refill starts by `FIRST_ANSWER_GRACE_MS` after it, answered or not. */
  private readonly made: number;

  constructor(
    private readonly spec: BucketSpec | undefined,
    concurrency: number | undefined,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {
    this.rate = spec?.perSecond ?? 0;
    this.cap = spec ? capOf(spec.burst) : 0;
    this.last = clock.now();
    this.made = this.last;
    this.limiter = new (bottleneck())({ reservoir: spec ? this.cap : null, maxConcurrent: concurrency ?? null });
  }

  /** The rate and capacity in force now (after any live adjustment), for tests and /readyz. */
  get current(): BucketState {
    return { perSecond: this.rate, capacity: this.cap, pausedUntil: this.pausedUntil };
  }

  /**
   * Resolves with a release once a token (and a concurrency slot) is this caller's. An abort
   * while queued rejects with the signal's reason; the token the queued job later gets is given
   * back, since bottleneck has no way to withdraw a queued job.
   */
  take(signal?: AbortSignal): Promise<Release> {
    signal?.throwIfAborted();
    return new Promise<Release>((resolve, reject) => {
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.limiter
        .schedule(() => {
          signal?.removeEventListener('abort', onAbort);
          if (aborted) {
            this.refund();
            return Promise.resolve();
          }
          this.inflight++;
          return new Promise<void>((done) => {
            let released = false;
            resolve(() => {
              if (released) return;
              released = true;
              this.inflight--;
              done();
            });
          });
        })
        .catch(() => {});
      this.kick();
    });
  }

  /** A token taken and not used (its caller went away) goes back into the bucket. */
  refund(): void {
    if (this.spec === undefined) return;
    void this.limiter.currentReservoir().then((cur) => {
      if ((cur ?? 0) < this.cap) void this.limiter.incrementReservoir(1);
    });
  }

  /** No token is spent before `until` (Retry-After); the bucket refills from empty after it. */
  pause(until: number): void {
    if (this.spec === undefined || until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.acc = 0;
    this.limiter.updateSettings({ reservoir: 0 });
    this.kick();
  }

  /** Never more tokens at hand than the provider says remain. */
  atMost(tokens: number): void {
    if (this.spec === undefined) return;
    const n = Math.max(0, Math.floor(tokens));
    void this.limiter.currentReservoir().then((cur) => {
      if ((cur ?? 0) > n) this.limiter.updateSettings({ reservoir: n });
      // The refill loop sleeps while the bucket is full: lowered, it must run again or waiters stall.
      this.kick();
    });
  }

  /**
   * The provider's `Limit` changed: the declared bucket is scaled by the same factor, never above
   * what was declared (the operator's ceiling). The first limit seen is the declared one's peer.
   */
  followLimit(limit: number): void {
    if (this.spec === undefined || limit <= 0) return;
    this.baseline ??= limit;
    const factor = Math.min(1, limit / this.baseline);
    const rate = this.spec.perSecond * factor;
    if (rate === this.rate) return;
    this.rate = rate;
    this.cap = capOf(Math.max(1, Math.round(this.spec.burst * factor)));
    this.atMost(this.cap);
    this.kick();
  }

  /**
   * A request it granted was answered (or failed). Both buckets start full, but the provider's
   * starts refilling only when the first requests arrive there, later than they left here (by as
   * much as a busy event loop delays them); refilling from the first take, this bucket would run
   * ahead of the provider's by that delay and meet a 429 on the first burst. Refilling from the
   * first answer, which comes after the provider counted its request, it runs behind instead, by
   * one round trip, once.
   */
  answered(): void {
    if (this.heard) return;
    this.heard = true;
    this.last = this.clock.now();
    // A grace or pause timer pending would hold the refill back until it fires: refill now.
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.kick();
  }

  /** Idle: nothing queued or running and the bucket full, so it may be dropped. */
  async idle(): Promise<boolean> {
    const c = this.limiter.counts();
    if (c.QUEUED + c.RUNNING + c.EXECUTING + c.RECEIVED > 0 || this.clock.now() < this.pausedUntil) return false;
    return this.spec === undefined || ((await this.limiter.currentReservoir()) ?? 0) >= this.cap;
  }

  stop(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    void this.limiter.stop({ dropWaitingJobs: true }).catch(() => {});
  }

  /** A take arrived while a refill was awaiting the limiter: that refill may decide to sleep without seeing it. */
  private kickedDuringRefill = false;

  /** Starts the refill loop if it is not running. */
  private kick(): void {
    if (this.refilling) this.kickedDuringRefill = true;
    if (this.spec === undefined || this.timer !== undefined || this.refilling) return;
    void this.refill();
  }

  private async refill(): Promise<void> {
    this.refilling = true;
    try {
      const now = this.clock.now();
      if (now < this.pausedUntil) {
        this.last = this.pausedUntil;
        this.schedule(this.pausedUntil - now);
        return;
      }
      if (!this.heard) {
        this.last = now;
        // `answered` starts the loop again; a first answer that is slow (a write the provider takes
        // 15 s over, one that hangs to its timeout) must not hold every other request that long,
        // so the refill also starts by the grace after the bucket was made, as the shared buckets'.
        const graceLeft = this.made + FIRST_ANSWER_GRACE_MS - now;
        if (graceLeft > 0) {
          this.schedule(graceLeft);
          return;
        }
        this.heard = true;
      }
      this.acc += (Math.max(0, now - this.last) * this.rate) / 1000;
      this.last = now;
      const whole = Math.floor(this.acc);
      const cur = (await this.limiter.currentReservoir()) ?? 0;
      if (whole > 0) {
        this.acc -= whole;
        let add = Math.min(whole, this.cap - cur);
        // A late tick (a busy event loop) brings several tokens at once. The provider accrued them
        // too, but its bucket may have been full meanwhile, holding the tokens of requests granted
        // here and not yet arrived there (the same busy loop delays them): granted together with
        // those, a lump overruns it. Held to what the requests in flight leave of the burst
        // (at least one), a lump costs a few tokens once; a 429 costs a Retry-After pause.
        if (whole > 1) add = Math.min(add, Math.max(1, this.cap - cur - this.inflight));
        if (add > 0) await this.limiter.incrementReservoir(add);
      }
      const full = cur + Math.max(0, whole) >= this.cap;
      // A full bucket accrues nothing; with nobody waiting the loop sleeps until the next take.
      if (full) this.acc = 0;
      if (full && this.limiter.counts().QUEUED === 0) return;
      this.schedule(((1 - this.acc) * 1000) / this.rate);
    } finally {
      this.refilling = false;
      if (this.kickedDuringRefill) {
        this.kickedDuringRefill = false;
        this.kick();
      }
    }
  }

  private schedule(ms: number): void {
    this.timer = this.timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.refill();
      },
      Math.max(1, Math.ceil(ms)),
    );
  }
}

/**
 * How long after a bucket is made it starts refilling if no request it granted has been answered:
 * the shared buckets' default grace (shared-state.ts). Refilling late is safe (it runs behind the
 * provider's bucket), so this bounds the stall a slow first answer causes, nothing more.
 */
export const FIRST_ANSWER_GRACE_MS = 5_000;

/**
 * Part of the declared burst is held back: requests leave here paced, but arrive with the jitter of
 * the network and of a busy event loop, and a provider whose bucket matches ours exactly refuses
 * one that arrives early (0.99 tokens: a 429, and a Retry-After pause of a whole second). One token
 * absorbs 1/rate of lateness (50 ms at 20/s), which a loaded machine's event loop exceeds; two,
 * where the burst has room for them (it keeps at least half), absorb twice that. It costs only the
 * first burst those tokens: a saturated bucket is empty, so its rate is the declared one.
 */
function capOf(burst: number): number {
  if (burst <= 1) return 1;
  return Math.max(burst - 2, Math.ceil(burst / 2), 1);
}

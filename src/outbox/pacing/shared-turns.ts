import { systemClock, type Clock } from '../../clock.js';
import { PacingTooLong } from '../../providers/pacing.js';
import type { Timers } from './bucket.js';
import { Line } from './line.js';
import { Rotation } from './rotation.js';
import { type BucketRef, type SharedBuckets, sleep, takeShared } from './shared.js';

interface Waiter {
  grant(): void;
  fail(err: unknown): void;
  /** How long it may wait for its token (undefined: as long as it takes). */
  withinMs: number | undefined;
}

/**
 * This process's takes of shared buckets (the SQLite file's, Redis's), in the order the
 * in-process pacer keeps: a request takes its connection's token first (one poller per
 * connection, its requests in line), then one of the app bucket, which goes to the connection
 * whose turn it is (./rotation.ts). Were every waiter to poll on its own, a token would go to
 * whichever timer fired first after the refill: in practice the connection that was there
 * first, every time, so one user's burst made everyone else's writes wait behind all of it.
 * Across processes the buckets are still shared first come, first served.
 */
export class SharedTurns {
  private readonly lines = new Map<string, Line>();
  private readonly rounds = new Map<string, Round>();
  /**
   * Per bucket key, the time before which its last take said it grants nothing (a provider's
   * pause, a refill): a bounded caller behind a waiter that sleeps on it is refused now, not in
   * line when its own patience runs out.
   */
  private readonly closedUntil = new Map<string, number>();
  private readonly buckets: SharedBuckets;

  constructor(
    buckets: SharedBuckets,
    private readonly timers: Timers,
    private readonly clock: Clock = systemClock,
  ) {
    this.buckets = {
      take: async (refs) => {
        const t = await buckets.take(refs);
        for (const r of refs) {
          if (t.granted) this.closedUntil.delete(r.key);
          else this.closedUntil.set(r.key, this.clock.now() + t.waitMs);
        }
        return t;
      },
      refund: (refs) => buckets.refund(refs),
      observe: (refs, adj) => buckets.observe(refs, adj),
      state: (refs) => buckets.state(refs),
    };
  }

  /**
   * Resolves once `own` (the connection's bucket, if it has one) and then `app` (if declared)
   * have each granted a token. An abort after the first grant gives that token back. With
   * `withinMs`, rejects with a PacingTooLong naming the wait as soon as a bucket says its next
   * token comes later than that (src/providers/pacing.ts), as the in-process pacer does.
   */
  async take(connection: string, own: BucketRef | undefined, app: BucketRef | undefined, signal: AbortSignal, withinMs?: number): Promise<void> {
    if (withinMs !== undefined) {
      const now = this.clock.now();
      const waitMs = Math.max(...[own, app].map((r) => (r ? (this.closedUntil.get(r.key) ?? now) : now))) - now;
      if (waitMs > withinMs) throw new PacingTooLong(waitMs);
    }
    if (own) {
      const line = this.lines.get(own.key) ?? new Line();
      this.lines.set(own.key, line);
      try {
        await line.run(() => takeShared(this.buckets, [own], signal, this.timers, withinMs), signal);
      } finally {
        if (line.size === 0 && this.lines.get(own.key) === line) this.lines.delete(own.key);
      }
    }
    if (app === undefined) return;
    let round = this.rounds.get(app.key);
    if (round === undefined) {
      const made = new Round(this.buckets, app, this.timers, () => {
        if (this.rounds.get(app.key) === made) this.rounds.delete(app.key);
      });
      round = made;
      this.rounds.set(app.key, round);
    }
    try {
      await round.wait(connection, signal, withinMs);
    } catch (err) {
      // Taken and never used: the connection's token goes back (a store that failed keeps it: it is unknown).
      if (own && (signal.aborted || err instanceof PacingTooLong)) await this.buckets.refund([own]).catch(() => {});
      throw err;
    }
  }
}

/**
 * One app bucket's waiters in this process: one loop asks the bucket while anyone waits, and
 * hands each token it is granted to the waiter whose turn it is.
 */
class Round {
  private readonly waiting = new Rotation<Waiter>();
  private pumping = false;
  /** Aborted when the last waiter leaves: the loop stops sleeping and ends. */
  private idle = new AbortController();

  constructor(
    private readonly buckets: SharedBuckets,
    private readonly ref: BucketRef,
    private readonly timers: Timers,
    private readonly ended: () => void,
  ) {}

  wait(connection: string, signal: AbortSignal, withinMs: number | undefined): Promise<void> {
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        withinMs,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.waiting.remove(connection, waiter);
        if (this.waiting.size === 0) this.idle.abort();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(connection, waiter);
      if (!this.pumping) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.waiting.size > 0) {
        const t = await this.buckets.take([this.ref]);
        if (t.granted) {
          const next = this.waiting.next();
          // Everyone who waited for it went away meanwhile.
          if (next) next.grant();
          else await this.buckets.refund([this.ref]);
          continue;
        }
        // Those who may not wait that long hear so now; the others wait on.
        for (const w of this.waiting.all()) {
          if (w.item.withinMs === undefined || t.waitMs <= w.item.withinMs) continue;
          this.waiting.remove(w.connection, w.item);
          w.item.fail(new PacingTooLong(t.waitMs));
        }
        if (this.waiting.size === 0) break;
        if (this.idle.signal.aborted) this.idle = new AbortController();
        await sleep(t.waitMs, this.idle.signal, this.timers).catch(() => {});
      }
    } catch (err) {
      // The store could not be asked: every waiter hears it, as each would have on its own next ask.
      for (let w = this.waiting.next(); w; w = this.waiting.next()) w.fail(err);
    } finally {
      this.pumping = false;
      this.ended();
    }
  }
}

import type { Timers } from './bucket.js';
import { Line } from './line.js';
import { Rotation } from './rotation.js';
import { type BucketRef, type SharedBuckets, sleep, takeShared } from './shared.js';

interface Waiter {
  grant(): void;
  fail(err: unknown): void;
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

  constructor(
    private readonly buckets: SharedBuckets,
    private readonly timers: Timers,
  ) {}

  /**
   * Resolves once `own` (the connection's bucket, if it has one) and then `app` (if declared)
   * have each granted a token. An abort after the first grant gives that token back.
   */
  async take(connection: string, own: BucketRef | undefined, app: BucketRef | undefined, signal: AbortSignal): Promise<void> {
    if (own) {
      const line = this.lines.get(own.key) ?? new Line();
      this.lines.set(own.key, line);
      try {
        await line.run(() => takeShared(this.buckets, [own], signal, this.timers), signal);
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
      await round.wait(connection, signal);
    } catch (err) {
      // Taken and never used: the connection's token goes back (a store that failed keeps it: it is unknown).
      if (own && signal.aborted) await this.buckets.refund([own]).catch(() => {});
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

  wait(connection: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
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

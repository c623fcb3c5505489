import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Timers } from './pacing/bucket.js';
import type { OutboxQueue } from './types.js';

/**
 * Pauses between tries to record an outcome the store refused: short at first (a SQLITE_BUSY past
 * busy_timeout, one dropped connection), then every few seconds (a PostgreSQL restart or failover).
 */
const RECORD_RETRY_FIRST_MS = 250;
const RECORD_RETRY_MAX_MS = 5_000;

export interface LeaseDeps {
  queue: OutboxQueue;
  owner: string;
  leaseMs: number;
  clock: Clock;
  timers: Timers;
  log: Logger;
}

/**
 * One claimed job's lease as its worker holds it: `sending` committed right before its request
 * leaves, renewed while the request is open, and known to last until `until` — taken from before
 * each write that set it, so never later than the stored one. While it lasts no other worker
 * touches the job, so the answer this worker holds is recorded only by it, or by nobody.
 */
export class JobLease {
  mark: 'none' | 'sending' | 'refused' = 'none';
  private until = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly o: LeaseDeps,
    readonly id: string,
  ) {}

  /** queued → sending, leased `leaseMs` from now; false when the job was cancelled or its lease taken. */
  async markSent(): Promise<boolean> {
    const at = this.o.clock.now();
    const ok = await this.o.queue.markSent(this.id, this.o.owner, this.o.leaseMs);
    this.mark = ok ? 'sending' : 'refused';
    if (ok) this.until = at + this.o.leaseMs;
    return ok;
  }

  /**
   * Keeps the lease of a job whose request is open, whatever the request's timeout (up to 10 min)
   * or a handler's several requests take: a lease that ran out mid-send would have another worker
   * recover a live send, resending it beside the open request or marking it `sent_unconfirmed`
   * and dropping its answer. A renewal that finds the lease gone stops. Returns the stop.
   */
  renewWhileOpen(): () => void {
    const { timers, queue, owner, leaseMs, clock, log } = this.o;
    let handle: unknown;
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      if (this.mark !== 'sending') {
        handle = timers.setTimeout(tick, leaseMs / 3);
        return;
      }
      const at = clock.now();
      void queue.renew(this.id, owner, leaseMs).then(
        (held) => {
          if (held) this.until = Math.max(this.until, at + leaseMs);
          if (held && !stopped) handle = timers.setTimeout(tick, leaseMs / 3);
        },
        (err: unknown) => {
          log.warn({ err: describeError(err), job: this.id }, 'could not renew the lease of an outbound job in flight; it tries again');
          if (!stopped) handle = timers.setTimeout(tick, leaseMs / 3);
        },
      );
    };
    handle = timers.setTimeout(tick, leaseMs / 3);
    return () => {
      stopped = true;
      timers.clearTimeout(handle);
    };
  }

  /**
   * Records the outcome of a sent job (`write`, one guarded update), trying again while the store
   * refuses it and the lease lasts: the provider's answer exists only in this process, and dropped,
   * the job would sit `sending` until its lease ran out and then be recovered as "maybe sent"
   * (`sent_unconfirmed`, or sent again) although its outcome was known. Past the lease, another
   * worker may have recovered the job; a stop past its grace (`signal`) gives up at once. Either
   * way the last error is thrown and the job is recovered as after a crash.
   */
  async record<T>(write: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        const left = this.until - this.o.clock.now();
        if (left <= 0 || signal.aborted) throw err;
        const wait = Math.min(left, RECORD_RETRY_MAX_MS, RECORD_RETRY_FIRST_MS * 2 ** Math.min(attempt - 1, 10));
        this.o.log.warn(
          { err: describeError(err), job: this.id, attempt, retryInMs: wait, leaseLeftMs: left },
          'could not record the outcome of an outbound job; it tries again while its lease lasts',
        );
        await this.pause(wait, signal);
      }
    }
  }

  private pause(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const { timers } = this.o;
      const done = () => {
        timers.clearTimeout(handle);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const handle = timers.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

import { isFinal, type Job } from './types.js';

export type JobListener = (job: Job) => void;

/** How often a waiting call reads its job again (see JobEvents). */
export const JOB_POLL_MS = 250;

/**
 * Tells waiters when a job reaches a final state (done, failed, dead, sent_unconfirmed, cancelled):
 * a tool call waits here up to `outbox.waitMs`. A listener's failure goes to `onError` and never
 * reaches the worker or other listeners.
 */
export class JobEvents {
  private readonly byJob = new Map<string, Set<JobListener>>();
  private readonly all = new Set<JobListener>();
  /** Waiters' own re-reads, by job: another process settled the job (`poke`), and each waiter reads it as its owner. */
  private readonly rereads = new Map<string, Set<() => void>>();

  /**
   * `pollMs`: how often a waiter reads its job again on its own. A job another process sent (a
   * `serve` and a `stdio` on one SQLite data dir both run a worker on the one queue) is settled
   * there; without Redis to tell this process (`poke`), the waiter would learn of it only at its
   * deadline, and its caller got "still queued" for a write done long before.
   */
  constructor(
    private readonly onError: (err: unknown) => void = () => {},
    private readonly pollMs = JOB_POLL_MS,
  ) {}

  subscribe(listener: JobListener): () => void {
    this.all.add(listener);
    return () => void this.all.delete(listener);
  }

  /** Listens for one job only. */
  on(jobId: string, listener: JobListener): () => void {
    const set = this.byJob.get(jobId) ?? new Set<JobListener>();
    this.byJob.set(jobId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byJob.get(jobId) === set) this.byJob.delete(jobId);
    };
  }

  publish(job: Job): void {
    if (!isFinal(job.state)) return;
    for (const l of [...(this.byJob.get(job.id) ?? []), ...this.all]) {
      try {
        l(job);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  /**
   * Another process settled this job (a replica's worker sent it): each waiter here reads it again
   * from the store, with its own owner's read, and is answered if it is final. Jobs nobody here
   * waits for cost nothing.
   */
  poke(jobId: string): void {
    for (const reread of [...(this.rereads.get(jobId) ?? [])]) reread();
  }

  /** Whether a call here waits for this job. */
  waiting(jobId: string): boolean {
    return this.rereads.has(jobId);
  }

  /**
   * The job once final, or undefined after `ms` (or on `signal`). Subscribes before it reads the
   * store through `read`, so a job that finishes between the read and the wait is not missed.
   */
  waitFor(jobId: string, read: () => Promise<Job | undefined>, ms: number, signal?: AbortSignal): Promise<Job | undefined> {
    // A caller gone (or a hub stopping) before the wait began: nothing to wait for.
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      const finish = (job: Job | undefined) => {
        off();
        offReread();
        clearTimeout(timer);
        clearInterval(poll);
        signal?.removeEventListener('abort', onAbort);
        resolve(job);
      };
      const onAbort = () => finish(undefined);
      const off = this.on(jobId, finish);
      const reread = () => {
        read().then(
          (job) => {
            if (job !== undefined && isFinal(job.state)) finish(job);
          },
          // A failed re-read leaves the wait as it was: the next one, or the deadline, answers it.
          () => {},
        );
      };
      const offReread = this.onReread(jobId, reread);
      timer = setTimeout(() => finish(undefined), ms);
      poll = setInterval(reread, this.pollMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      read().then(
        (job) => {
          if (job === undefined || isFinal(job.state)) finish(job);
        },
        (err: unknown) => {
          off();
          offReread();
          clearTimeout(timer);
          clearInterval(poll);
          reject(err);
        },
      );
    });
  }

  private onReread(jobId: string, reread: () => void): () => void {
    const set = this.rereads.get(jobId) ?? new Set<() => void>();
    this.rereads.set(jobId, set);
    set.add(reread);
    return () => {
      set.delete(reread);
      if (set.size === 0 && this.rereads.get(jobId) === set) this.rereads.delete(jobId);
    };
  }
}

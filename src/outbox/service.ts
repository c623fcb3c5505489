import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { Part } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import { JobEvents } from './events.js';
import type { CancelResult, JobOwner, Outbox } from './types.js';
import { DEFAULT_MAX_ATTEMPTS, OutboxWorker, type SendFn } from './worker.js';

export interface OutboxSettings {
  waitMs: number;
  maxAttempts: number;
  retentionDays: number;
}

export interface OutboxServiceOptions {
  /** The store's outbox (`HubStore.outbox`): jobs, their claims and their sealed results. */
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  settings?: Partial<OutboxSettings>;
}

const DAY_MS = 86_400_000;

/**
 * The outbox as the hub holds it, its `outbox` part: the repository tool calls enqueue into, the
 * feed they wait on, the worker (idle until the tool-call wiring hands it a send function) and an
 * hourly purge of done and cancelled jobs past `retentionDays` (failed, dead and unconfirmed ones
 * stay for an operator: `switchboard queue`).
 */
export class OutboxService implements Part {
  readonly name = 'outbox';
  readonly outbox: Outbox;
  readonly events: JobEvents;
  readonly worker: OutboxWorker;
  readonly waitMs: number;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly o: OutboxServiceOptions) {
    this.outbox = o.outbox;
    this.events = new JobEvents((err) => o.log.warn({ err: describeError(err) }, 'an outbox job listener failed'));
    this.worker = new OutboxWorker({
      queue: this.outbox,
      events: this.events,
      clock: o.clock,
      log: o.log,
      maxAttempts: o.settings?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    });
    this.waitMs = o.settings?.waitMs ?? 10_000;
    // Every write call waiting for its job listens to it, and removes its listener when done: more
    // than ten at once is load, not a leak, and Node's warning would tell an operator otherwise.
    setMaxListeners(0, this.stopping.signal);
  }

  /**
   * Aborted once this process begins to stop. A write call's wait ends on it with its job's handle
   * and leaves the job queued: the stop closes the callers' connections, and that is no cancel of
   * theirs (README, Outbound writes: "a hub that stops loses none").
   */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /**
   * The hub begins to stop: to be called before its faces close their connections, so the write
   * calls still waiting answer with their job's handle (`queue__job_status` follows it) rather than
   * read the closing connection as their caller's cancel. Resolves after one turn of the event
   * loop, which lets those answers be written first.
   */
  async beginStop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  useSender(send: SendFn): void {
    this.worker.useSender(send);
  }

  /** Cancels for the job's owner and tells its waiters. */
  async cancel(id: string, owner: JobOwner): Promise<CancelResult> {
    const r = await this.outbox.cancel(id, owner);
    if (r.outcome === 'cancelled') this.events.publish(r.job);
    return r;
  }

  async purgeOnce(): Promise<number> {
    const before = this.o.clock.now() - (this.o.settings?.retentionDays ?? 7) * DAY_MS;
    return (await this.outbox.purge('done', before)) + (await this.outbox.purge('cancelled', before));
  }

  start(): void {
    this.worker.start();
    const purge = () =>
      void this.purgeOnce().catch((err: unknown) => this.o.log.warn({ err: describeError(err) }, 'the outbox purge failed; it runs again later'));
    purge();
    this.purgeTimer = setInterval(purge, 3_600_000);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    // Where the hub did not say so before closing its faces, a wait still under way (a stdio face's) ends here as at a stop.
    this.stopping.abort();
    clearInterval(this.purgeTimer);
    await this.worker.stop();
  }
}

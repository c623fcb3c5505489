import { AbortError } from 'p-retry';
import type { Clock } from '../../clock.js';
import { WakeLoop } from '../../lifecycle.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { newOwnerId, ownerIsDead } from '../../oauth/owner.js';
import { backoffMs } from './backoff.js';
import type { EventFeed, HandlerRegistry } from './handlers.js';
import { UNROUTABLE, type InboxEvent, type InboxQueue } from './types.js';
import { RepeatedFailure } from '../../observability/repeated-failure.js';

export { UNROUTABLE } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 8;

export interface WorkerOptions {
  queue: InboxQueue;
  handlers: HandlerRegistry;
  feed: EventFeed;
  clock: Clock;
  log: Logger;
  /** This worker's name on its leases; unique per process. */
  owner?: string;
  /** Tells a lease holder known to be gone (default: a process on this host that no longer runs). */
  ownerIsDead?: (owner: string) => boolean;
  /** A handler must finish within its lease, else another worker may run the event again. */
  leaseMs?: number;
  /** Attempts before an event is dead (the first run counts). */
  maxAttempts?: number;
  batchSize?: number;
  /** How often an idle worker looks for due retries and rows other processes stored. */
  idleMs?: number;
  backoffMs?: (attempt: number) => number;
}

/**
 * Processes the inbox: claims due rows with a lease, runs their integration's handler, and records
 * the outcome with guarded updates. A worker that dies leaves its rows leased; once the lease
 * expires any worker on the store claims them again (at-least-once).
 */
export class InboxWorker {
  readonly owner: string;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly loop: WakeLoop;
  /** A claim that fails on every tick (the store away) is logged when it starts and when it ends. */
  private readonly claimFailures: RepeatedFailure;

  constructor(private readonly o: WorkerOptions) {
    // host:pid:start:instance, so a restarted hub can tell its dead predecessor's leases (ownerIsDead).
    this.owner = o.owner ?? newOwnerId();
    this.leaseMs = o.leaseMs ?? 5 * 60_000;
    this.maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.batchSize = o.batchSize ?? 64;
    this.idleMs = o.idleMs ?? 1_000;
    this.claimFailures = new RepeatedFailure(o.log, 'the inbox worker could not claim or record events');
    this.loop = new WakeLoop({
      runOnce: () => this.runOnce(),
      batchSize: this.batchSize,
      idleMs: this.idleMs,
      onError: (err) => this.claimFailures.failed(err),
    });
  }

  /** Claims one batch and handles it; the number of events claimed. */
  async runOnce(): Promise<number> {
    const events = await this.o.queue.claim({
      owner: this.owner,
      limit: this.batchSize,
      leaseMs: this.leaseMs,
      maxAttempts: this.maxAttempts,
      ownerIsDead: this.o.ownerIsDead ?? ownerIsDead,
    });
    this.claimFailures.succeeded();
    const handled: InboxEvent[] = [];
    for (const e of events) if (await this.handle(e)) handled.push(e);
    if (handled.length === 0) return events.length;
    // One commit marks the batch's handled events done: a commit per event was most of the
    // worker's cost under load. A crash before it runs the batch's effects again (at least once).
    const done = new Set(
      await this.o.queue.completeAll(
        handled.map((e) => e.id),
        this.owner,
      ),
    );
    for (const e of handled) {
      // Published only by the worker that marked it done: a handler run again after a lost lease does not notify twice.
      if (done.has(e.id)) this.o.feed.publish({ ...e, state: 'done' });
      else this.o.log.warn({ event: e.id, integration: e.integration }, 'an inbox event was handled after its lease passed to another worker');
    }
    return events.length;
  }

  /** Runs batches until none is due (tests, and a hub catching up). */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.runOnce(); n > 0; n = await this.runOnce()) total += n;
    return total;
  }

  /** Runs the event's handler; true when it succeeded (the caller marks it done). */
  private async handle(e: InboxEvent): Promise<boolean> {
    try {
      // Stored dead at intake; one replayed by hand still has no connection: dead again, no handler sees it.
      if (e.connection === null) throw new AbortError(UNROUTABLE);
      await this.o.handlers.for(e.integration)(e);
      return true;
    } catch (err) {
      await this.failed(e, err);
      return false;
    }
  }

  private async failed(e: InboxEvent, err: unknown): Promise<void> {
    const permanent = err instanceof AbortError;
    const last = permanent || e.attempts >= this.maxAttempts;
    const delay = (this.o.backoffMs ?? backoffMs)(e.attempts);
    const error = describeError(err);
    const outcome = await this.o.queue.fail(e.id, this.owner, { error, retryAt: last ? 'never' : this.o.clock.now() + delay });
    const fields = { event: e.id, integration: e.integration, type: e.type, attempt: e.attempts, error };
    // Replaying an unroutable event runs no handler (it has no connection): the provider's redelivery after the account is linked routes it.
    if (outcome === 'dead' && e.connection === null)
      this.o.log.warn(fields, 'an inbox event matched no connection: link the account it names, then have the provider redeliver it');
    else if (outcome === 'dead') this.o.log.warn(fields, 'an inbox event is dead: `switchboard webhooks replay` runs it again');
    else if (outcome === 'failed') this.o.log.info({ ...fields, retryInMs: delay }, 'an inbox event failed; it will be retried');
  }

  /** Runs in the background until stop: at once, on every wake(), and every idleMs. */
  start(): void {
    this.loop.start();
  }

  /** New rows were stored in this process: look now rather than at the next idle tick. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming; the batch in hand is finished (its leases would otherwise delay the events). */
  async stop(): Promise<void> {
    await this.loop.stop();
  }
}

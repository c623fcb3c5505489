import type { Clock } from '../../clock.js';
import { describeError } from '../../errors.js';
import type { Part } from '../../lifecycle.js';
import type { Logger } from '../../observability/logger.js';
import { watchDone } from './done-watch.js';
import { EventFeed, HandlerRegistry } from './handlers.js';
import { DAY_MS, PurgeJob } from './purge.js';
import type { Inbox } from './types.js';
import { DEFAULT_MAX_ATTEMPTS, InboxWorker } from './worker.js';

export interface InboxSettings {
  retentionDays: number;
  maxAttempts: number;
  groupCommit: boolean;
}

/** The inbox as the store hands it to its service: `flush` commits accepts still queued for a group commit. */
export interface FlushableInbox extends Inbox {
  /** Commits now what waits for a group commit; an inbox whose every accept commits alone has nothing to do. */
  flush(): void;
}

/**
 * How the inbox service gets its repository (a part of the hub's store): opened, not held, because
 * the service's options go in — the worker it wakes when rows are stored, and whether concurrent
 * accepts share a commit (SQLite's group commit; an engine whose commits run in parallel may ignore it).
 */
export interface InboxOpener {
  openInbox(opts?: InboxOpening): FlushableInbox;
}

export interface InboxOpening {
  /** Told after a commit that stored new rows (the worker in this process wakes up). */
  onStored?: () => void;
  groupCommit?: boolean;
}

export interface InboxServiceOptions {
  store: InboxOpener;
  clock: Clock;
  log: Logger;
  settings?: Partial<InboxSettings>;
}

/**
 * The inbox as the hub holds it: the repository the webhook route and pollers accept into, the
 * handler registry, the feed the MCP layer listens to, and the worker and purge job that run
 * as the hub's `inbox` part (in `serve` and in `stdio`; two processes on one store share the rows through leases).
 */
export class InboxService implements Part {
  readonly name = 'inbox';
  readonly inbox: FlushableInbox;
  readonly handlers = new HandlerRegistry();
  readonly feed: EventFeed;
  readonly worker: InboxWorker;
  readonly purge: PurgeJob;
  private stopWatch: () => void = () => {};

  constructor(private readonly o: InboxServiceOptions) {
    this.feed = new EventFeed((err) => o.log.warn({ err: describeError(err) }, 'an inbox event listener failed'));
    this.inbox = o.store.openInbox({ onStored: () => this.worker.wake(), groupCommit: o.settings?.groupCommit ?? true });
    this.worker = new InboxWorker({
      queue: this.inbox,
      handlers: this.handlers,
      feed: this.feed,
      clock: o.clock,
      log: o.log,
      maxAttempts: o.settings?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    });
    this.purge = new PurgeJob({ inbox: this.inbox, clock: o.clock, log: o.log, retentionMs: (o.settings?.retentionDays ?? 7) * DAY_MS });
  }

  start(): void {
    this.worker.start();
    this.purge.start();
    this.stopWatch = watchDone({ source: this.inbox, feed: this.feed, clock: this.o.clock, log: this.o.log });
  }

  /** Accepts queued for a group commit are committed before the store closes: their callers were promised a durable row. */
  async stop(): Promise<void> {
    this.stopWatch();
    this.inbox.flush();
    await this.worker.stop();
    await this.purge.stop();
  }
}

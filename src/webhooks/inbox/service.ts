import type { Clock } from '../../clock.js';
import { describeError } from '../../errors.js';
import type { Part } from '../../lifecycle.js';
import type { Logger } from '../../observability/logger.js';
import { startCheckpointer, type Checkpointer } from '../../store/checkpointer.js';
import type { Db } from '../../store/db.js';
import { watchDone } from './done-watch.js';
import { EventFeed, HandlerRegistry } from './handlers.js';
import { DAY_MS, PurgeJob } from './purge.js';
import { SqliteInbox } from './sqlite.js';
import { DEFAULT_MAX_ATTEMPTS, InboxWorker } from './worker.js';

export interface InboxSettings {
  retentionDays: number;
  maxAttempts: number;
  groupCommit: boolean;
}

export interface InboxServiceOptions {
  db: Db;
  /** The database file; with one, WAL checkpoints run on a thread of their own while the inbox runs. */
  file?: string;
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
  readonly inbox: SqliteInbox;
  readonly handlers = new HandlerRegistry();
  readonly feed: EventFeed;
  readonly worker: InboxWorker;
  readonly purge: PurgeJob;
  private checkpointer: Checkpointer | undefined;
  private stopWatch: () => void = () => {};

  constructor(private readonly o: InboxServiceOptions) {
    this.feed = new EventFeed((err) => o.log.warn({ err: describeError(err) }, 'an inbox event listener failed'));
    this.inbox = new SqliteInbox(o.db, o.clock, { onStored: () => this.worker.wake(), groupCommit: o.settings?.groupCommit ?? true });
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
    // Deliveries are acknowledged on commit: a checkpoint inside one would hold every request up.
    if (this.o.file !== undefined && this.o.file !== ':memory:') this.checkpointer = startCheckpointer(this.o.db, this.o.file, this.o.log);
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
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
  }
}

import type { Clock } from '../../clock.js';
import type { Logger } from '../../observability/logger.js';
import { inChunks, Periodic } from '../../store/housekeeping.js';
import type { InboxAdmin, PurgeResult } from './types.js';

export const DAY_MS = 86_400_000;

export interface PurgeOptions {
  inbox: Pick<InboxAdmin, 'purge'>;
  clock: Clock;
  log: Logger;
  /** Delivery ids and done events are kept this long after they were received (issue 8: at least 7 days). */
  retentionMs: number;
  everyMs?: number;
  /** Rows per delete, so the write lock is never held for long while deliveries arrive. */
  chunk?: number;
}

/**
 * Removes what the dedupe window no longer needs. A dead event stays until it is replayed and
 * done: it is what `webhooks list --state dead` shows.
 */
export class PurgeJob {
  private readonly periodic: Periodic;

  constructor(private readonly o: PurgeOptions) {
    this.periodic = new Periodic(() => this.runOnce(), { everyMs: o.everyMs, log: o.log, what: 'the inbox purge' });
  }

  async runOnce(): Promise<PurgeResult> {
    const before = this.o.clock.now() - this.o.retentionMs;
    const chunk = this.o.chunk ?? 5_000;
    const total: PurgeResult = { deliveries: 0, events: 0 };
    await inChunks(chunk, async () => {
      const r = await this.o.inbox.purge(before, chunk);
      total.deliveries += r.deliveries;
      total.events += r.events;
      // Another chunk while either table filled this one.
      return Math.max(r.deliveries, r.events);
    });
    if (total.deliveries + total.events > 0) this.o.log.info({ ...total, before }, 'purged the inbox past its retention');
    return total;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}

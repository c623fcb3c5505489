import type { Clock } from '../../clock.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
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
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly o: PurgeOptions) {}

  async runOnce(): Promise<PurgeResult> {
    const before = this.o.clock.now() - this.o.retentionMs;
    const chunk = this.o.chunk ?? 5_000;
    const total: PurgeResult = { deliveries: 0, events: 0 };
    for (;;) {
      const r = await this.o.inbox.purge(before, chunk);
      total.deliveries += r.deliveries;
      total.events += r.events;
      if (r.deliveries < chunk && r.events < chunk) break;
      await new Promise((done) => setImmediate(done));
    }
    if (total.deliveries + total.events > 0) this.o.log.info({ ...total, before }, 'purged the inbox past its retention');
    return total;
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce().catch((err: unknown) => this.o.log.warn({ err: describeError(err) }, 'the inbox purge failed; it runs again later'));
    };
    tick();
    this.timer = setInterval(tick, this.o.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

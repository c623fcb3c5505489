import type { Clock } from '../../clock.js';
import type { Logger } from '../../observability/logger.js';
import { inChunks, Periodic } from '../../store/housekeeping.js';
import type { AgentMetrics } from '../metrics.js';
import type { AgentTaskStore } from './types.js';

/** Finished agent tasks are kept this long unless told otherwise: as long as the inbox keeps its events (issue 8). */
export const DEFAULT_TASK_RETENTION_MS = 7 * 86_400_000;

export interface TaskPurgeOptions {
  store: Pick<AgentTaskStore, 'expire' | 'purge'>;
  clock: Clock;
  log: Logger;
  /** A finished task (and its sealed result) is deleted this long after it last changed. */
  retentionMs: number;
  everyMs?: number;
  /** Rows per statement, so the write lock is never held for long while callbacks arrive. */
  chunk?: number;
  metered?: Pick<AgentMetrics, 'taskEnded'> | undefined;
}

/**
 * The agent tasks' housekeeping, run like the inbox's purge job (src/webhooks/inbox/purge.ts):
 * unfinished tasks past their expiry are timed out (so one nobody asks about still ends, and its
 * agent's silence is counted), then finished ones past the retention are deleted. A callback for
 * a deleted task gets 404, as one for a task never made does; its owner's `agent__task_status`
 * says the task is unknown.
 */
export class TaskPurgeJob {
  private readonly periodic: Periodic;

  constructor(private readonly o: TaskPurgeOptions) {
    this.periodic = new Periodic(() => this.runOnce(), { everyMs: o.everyMs, log: o.log, what: 'the agent task purge' });
  }

  async runOnce(): Promise<{ expired: number; purged: number }> {
    const chunk = this.o.chunk ?? 1_000;
    const now = this.o.clock.now();
    const expired = await inChunks(chunk, async () => {
      const ended = await this.o.store.expire(now, chunk);
      for (const t of ended) this.o.metered?.taskEnded(t.answeredBy ?? t.agent, { state: 'timed_out' });
      return ended.length;
    });
    const before = now - this.o.retentionMs;
    const purged = await inChunks(chunk, () => this.o.store.purge(before, chunk));
    if (expired + purged > 0) this.o.log.info({ expired, purged, before }, 'agent tasks: expired ones timed out, finished ones past their retention deleted');
    return { expired, purged };
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}

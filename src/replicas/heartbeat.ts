import type { Logger } from 'pino';
import { RepeatedFailure } from '../observability/repeated-failure.js';
import { DEFAULT_HEARTBEAT_MS, type ReplicaRegistry, type ReplicaSelf } from './registry.js';

export interface RunningReplica {
  /** Stops the beat and removes this replica's row: retries naming it are answered at once. */
  stop(): Promise<void>;
}

/**
 * Registers this replica and keeps its row fresh. A failed beat is logged and the next one tries
 * again. A stale row alone does not make other replicas treat this one as gone (beats are missed
 * while the store itself is away): they still try its address, and give up on it when that refuses,
 * when another process answers there, or when it stays silent with no beat while the store answers
 * (forward.ts). The timer is unref'd, so it never keeps a stopping process alive.
 */
export async function runReplica(registry: ReplicaRegistry, self: ReplicaSelf, opts: { log: Logger; everyMs?: number }): Promise<RunningReplica> {
  await registry.register(self);
  // Every beat fails while the database is away: told when that starts, when its reason changes,
  // once a minute and when a beat lands again, as the workers tell theirs, not at every beat.
  const failures = new RepeatedFailure(opts.log, 'the replica heartbeat could not be written');
  const timer = setInterval(() => {
    registry.heartbeat().then(
      () => failures.succeeded(),
      (err: unknown) => failures.failed(err),
    );
  }, opts.everyMs ?? DEFAULT_HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await registry
        .forget()
        .catch((err: unknown) => opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not unregister this replica'));
    },
  };
}

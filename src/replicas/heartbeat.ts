import type { Logger } from 'pino';
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
  const timer = setInterval(() => {
    registry.heartbeat().catch((err: unknown) => opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'replica heartbeat failed'));
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

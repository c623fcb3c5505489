import type { Identity } from '../../identity/identity.js';
import type { LocalWork } from './local.js';
import type { TaskService } from './service.js';
import type { BackingKind } from './types.js';
import { createTaskResult, type CreateTaskResult } from './wire.js';

/**
 * Handed to a source (as `ctx.tasks`) when the caller negotiated the Tasks extension and the tool
 * declares task support: the source decides what becomes a task and answers with what this returns.
 */
export interface TaskStarter {
  /** How long the task will stay readable: what a source asks of a downstream server keeping the work. */
  readonly ttlMs: number;
  /** Runs `work` in this process as a task owned by the caller. */
  runLocal(work: LocalWork): Promise<CreateTaskResult>;
  /** A task whose state is a record of another store (an agent task, an outbox job), read from there. */
  backed(kind: Exclude<BackingKind, 'local'>, id: string): Promise<CreateTaskResult>;
}

/** `ttlMs`: what the client asked for (2025-11-25 `task.ttl`), bounded by the registry. */
export function taskStarter(tasks: TaskService, identity: Identity, tool: string, ttlMs?: number): TaskStarter {
  return {
    ttlMs: tasks.ttlFor(ttlMs),
    runLocal: async (work) => createTaskResult(await tasks.runLocal(identity, tool, work, ttlMs)),
    backed: async (kind, id) => createTaskResult(await tasks.createBacked(identity, tool, { kind, id }, ttlMs)),
  };
}

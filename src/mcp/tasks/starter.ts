import type { Identity } from '../../identity/identity.js';
import type { LocalWork } from './local.js';
import type { TaskService } from './service.js';
import { createTaskResult, type CreateTaskResult } from './wire.js';

/**
 * Handed to a source (as `ctx.tasks`) when the caller negotiated the Tasks extension and the tool
 * declares task support: the source decides what becomes a task and answers with what this returns.
 */
export interface TaskStarter {
  /** Runs `work` in this process as a task owned by the caller. */
  runLocal(work: LocalWork): Promise<CreateTaskResult>;
}

export function taskStarter(tasks: TaskService, identity: Identity, tool: string): TaskStarter {
  return {
    runLocal: async (work) => createTaskResult(await tasks.runLocal(identity, tool, work)),
  };
}

import { z } from 'zod';
import type { Clock } from '../clock.js';
import { processOfHolder } from '../mcp/downstream/held-calls.js';
import { holderStopped } from '../mcp/tasks/backings/downstream.js';
import { isTerminal, type TaskOwner, type TaskRepository } from '../mcp/tasks/types.js';

/** The 2026-07-28 task methods (SEP-2663) a replica may need to send to the task's holder. */
export const TASK_METHODS: ReadonlySet<string> = new Set(['tasks/get', 'tasks/update', 'tasks/cancel']);

const downstreamRef = z.looseObject({ process: z.string() });

/** Which process a task request needs (see `taskHolders`), and what to record when that process is gone. */
export interface TaskHolderLookup {
  (owner: TaskOwner, taskId: string, method: string): Promise<string | undefined>;
  /**
   * The holder this lookup named is no longer running: a task that lived on its connection fails
   * in the record, saying so, so every replica answers its requests from the record.
   */
  gone?(owner: TaskOwner, taskId: string): Promise<void>;
}

/**
 * Which process a task request needs, read from the task's record, for its owner only:
 *
 * - a `local` task's work runs in the process that started it: tasks/update hands answers to the
 *   work in that memory (elsewhere they were dropped) and tasks/cancel aborts it there (elsewhere
 *   the record said cancelled while the work ran on); tasks/get reads the record, anywhere;
 * - a `downstream` task is reached over the starting process's connection (a 2025-era server's
 *   task lives in that session): all three go there; elsewhere they answered "ask that process";
 * - `agent_task` and `outbox_job` keep their state in the store: any replica answers.
 *
 * A finished task needs nobody: its outcome is in the record. Returns the holder's PROCESS_ID.
 */
export function taskHolders(repo: TaskRepository, clock: Clock): TaskHolderLookup {
  const holderOf = async (owner: TaskOwner, taskId: string, method: string): Promise<string | undefined> => {
    const record = await repo.get(taskId, { tenant: owner.tenant, user: owner.user }, clock.now());
    if (!record || isTerminal(record.status)) return undefined;
    if (record.backing.kind === 'local') return method === 'tasks/get' ? undefined : processOfHolder(record.backing.id);
    if (record.backing.kind !== 'downstream') return undefined;
    let ref: unknown;
    try {
      ref = JSON.parse(record.backing.id);
    } catch {
      return undefined;
    }
    const parsed = downstreamRef.safeParse(ref);
    return parsed.success ? processOfHolder(parsed.data.process) : undefined;
  };
  const gone = async (owner: TaskOwner, taskId: string): Promise<void> => {
    const record = await repo.get(taskId, { tenant: owner.tenant, user: owner.user }, clock.now());
    const failed = record && holderStopped(record);
    // A failed state holds no result: nothing in it is sealed, so the store's own repository writes it.
    if (failed) await repo.update(taskId, failed, clock.now());
  };
  return Object.assign(holderOf, { gone });
}

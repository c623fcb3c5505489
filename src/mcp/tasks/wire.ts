import type { TaskView } from './service.js';
import type { TaskStatus } from './types.js';

/** The Task fields every task-bearing answer carries at its root. */
interface TaskFields {
  taskId: string;
  status: TaskStatus;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs: number;
  statusMessage?: string;
}

/** A task-augmented tools/call's answer (SEP-2663 CreateTaskResult). */
export interface CreateTaskResult extends TaskFields {
  resultType: 'task';
  [key: string]: unknown;
}

export function isCreateTaskResult(v: unknown): v is CreateTaskResult {
  return typeof v === 'object' && v !== null && (v as { resultType?: unknown }).resultType === 'task';
}

/**
 * The Tasks extension's wire shapes (SEP-2663). Both are flat `Result & Task` objects: no nested
 * `task` key, durations as integer milliseconds under `ttlMs` / `pollIntervalMs` (never the v1
 * `ttl` / `pollInterval`), times as ISO 8601, and no `requestState` (the v2 Task has none).
 */

/** SEP-2663 keeps `failed` for JSON-RPC errors: a tool's own isError answer is a completed task. */
function statusOf(t: TaskView): TaskStatus {
  return t.status === 'failed' && t.error === undefined && t.result !== undefined ? 'completed' : t.status;
}

function base(t: TaskView): TaskFields {
  const out: TaskFields = {
    taskId: t.id,
    status: statusOf(t),
    createdAt: new Date(t.createdAt).toISOString(),
    lastUpdatedAt: new Date(t.updatedAt).toISOString(),
    ttlMs: Math.round(t.ttlMs),
    pollIntervalMs: Math.round(t.pollIntervalMs),
  };
  if (t.statusMessage !== undefined) out.statusMessage = t.statusMessage;
  return out;
}

/** What a task-augmented tools/call returns at once; the outcome is read with tasks/get. */
export function createTaskResult(t: TaskView): CreateTaskResult {
  return { resultType: 'task', ...base(t) };
}

/**
 * tasks/get's DetailedTask: the result inlined once completed (there is no tasks/result in v2),
 * the error once failed, the still-pending input requests while input_required.
 */
export function detailedTask(t: TaskView): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base(t) };
  if (statusOf(t) === 'completed' && t.result !== undefined) out['result'] = withoutRelatedTaskMeta(t.result);
  if (t.status === 'failed' && t.error !== undefined) out['error'] = t.error;
  if (t.status === 'input_required' && t.inputRequests !== undefined) out['inputRequests'] = t.inputRequests;
  return out;
}

const RELATED_TASK_META = 'io.modelcontextprotocol/related-task';

/** The v1 related-task `_meta` key is redundant next to the root `taskId` and must not appear (SEP-2663). */
function withoutRelatedTaskMeta(result: Record<string, unknown>): Record<string, unknown> {
  const meta = result['_meta'];
  if (typeof meta !== 'object' || meta === null || !(RELATED_TASK_META in meta)) return result;
  const { [RELATED_TASK_META]: _drop, ...rest } = meta as Record<string, unknown>;
  return { ...result, _meta: rest };
}

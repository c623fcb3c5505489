import { ProtocolError, ProtocolErrorCode, RELATED_TASK_META_KEY, type RequestMethod, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Identity } from '../../identity/identity.js';
import { ANY_PARAMS, taskParams, withTaskCodes } from './errors.js';
import type { TaskService, TaskView } from './service.js';
import { ERROR_SPECS } from '../../errors.js';
import { isTerminal, type TaskError } from './types.js';
import type { CreateTaskResult } from './wire.js';

/**
 * The 2025-11-25 experimental tasks for session clients (and stdio): tasks/get, tasks/result,
 * tasks/list, tasks/cancel and notifications/tasks/status, over the same registry as the
 * 2026-07-28 extension. The v1 wire differs: a nested `task` on creation, `ttl`/`pollInterval`,
 * a separate tasks/result, and input delivered as server→client requests on the tasks/result
 * stream (the 2026 extension's tasks/update has no 2025 counterpart).
 */

/** The v1 server capability: tasks of tools/call, listable and cancellable. */
export const LEGACY_TASKS_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

const PAGE_SIZE = 50;
/** How long a waiting tasks/result sleeps between looks when no change is announced (another process's task). */
const RESULT_POLL_MS = 1000;

interface LegacyTask {
  taskId: string;
  status: TaskView['status'];
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttl: number;
  pollInterval: number;
}

function legacyTask(t: TaskView): LegacyTask {
  const out: LegacyTask = {
    taskId: t.id,
    status: t.status,
    createdAt: new Date(t.createdAt).toISOString(),
    lastUpdatedAt: new Date(t.updatedAt).toISOString(),
    ttl: t.ttlMs,
    pollInterval: t.pollIntervalMs,
  };
  if (t.statusMessage !== undefined) out.statusMessage = t.statusMessage;
  return out;
}

/**
 * The v1 CreateTaskResult for a task the 2026 shape describes. A task that `completed` at once (a
 * write retried with its idempotency key after it finished) is read again in the v1 shape: the
 * 2026 one shows a call's isError answer as `completed`, where 2025-11-25 shows it `failed`, as
 * the task's tasks/get then does, and a finished task's status never changes.
 */
export async function legacyCreated(tasks: TaskService, identity: Identity, created: CreateTaskResult): Promise<{ task: LegacyTask }> {
  return created.status === 'completed' ? { task: legacyTask(await tasks.get(identity, created.taskId)) } : legacyCreateTaskResult(created);
}

/** The v1 CreateTaskResult for a task the 2026 shape describes. */
export function legacyCreateTaskResult(created: CreateTaskResult): { task: LegacyTask } {
  const task: LegacyTask = {
    taskId: created.taskId,
    status: created.status,
    createdAt: created.createdAt,
    lastUpdatedAt: created.lastUpdatedAt,
    ttl: created.ttlMs,
    pollInterval: created.pollIntervalMs,
  };
  if (created.statusMessage !== undefined) task.statusMessage = created.statusMessage;
  return { task };
}

const inputRequestSchema = z.object({ method: z.string(), params: z.record(z.string(), z.unknown()).optional() });

function encodeCursor(taskId: string): string {
  return Buffer.from(taskId).toString('base64url');
}

function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^task_[A-Za-z0-9_-]{1,64}$/.test(id)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'invalid pagination cursor');
  return id;
}

const taskIdParams = z.looseObject({ taskId: z.string().min(1).max(200) });
const listParams = z.looseObject({ cursor: z.string().max(200).optional() });

/**
 * The SDK types only its own methods' handlers; these take any params and check them themselves
 * (`taskParams`), so that every refusal carries the hub's code (`withTaskCodes`).
 */
export function registerLegacyTaskMethods(server: Server, tasks: TaskService, identity: Identity): void {
  server.setRequestHandler('tasks/get', ANY_PARAMS, (raw) =>
    withTaskCodes(async () => ({ ...legacyTask(await tasks.get(identity, taskParams('tasks/get', taskIdParams, raw).taskId)) })),
  );
  server.setRequestHandler('tasks/list', ANY_PARAMS, (raw) =>
    withTaskCodes(async () => {
      const params = taskParams('tasks/list', listParams, raw);
      const page = await tasks.list(identity, decodeCursor(params.cursor), PAGE_SIZE + 1);
      const shown = page.slice(0, PAGE_SIZE);
      const last = shown.at(-1);
      return { tasks: shown.map(legacyTask), ...(page.length > PAGE_SIZE && last ? { nextCursor: encodeCursor(last.id) } : {}) };
    }),
  );
  // 2025-11-25: a task already terminal cannot be cancelled (-32602). Neither can a queued write
  // whose request already left: calling it cancelled would hide a write the provider may apply.
  server.setRequestHandler('tasks/cancel', ANY_PARAMS, (raw) =>
    withTaskCodes(async () => {
      const { taskId } = taskParams('tasks/cancel', taskIdParams, raw);
      const refused = await tasks.cancel(identity, taskId);
      if (refused === 'terminal') throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Cannot cancel a task in a terminal status');
      if (refused === 'too_late')
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Cannot cancel this task: its write was already sent to the provider; its outcome follows');
      return { ...legacyTask(await tasks.get(identity, taskId)) };
    }),
  );
  server.setRequestHandler('tasks/result', ANY_PARAMS, async (raw, ctx) => {
    const outcome = await withTaskCodes(() => awaitOutcome(tasks, identity, taskParams('tasks/result', taskIdParams, raw).taskId, ctx));
    // A task that failed with a protocol error answers with that error as it is (a downstream
    // server's passes as it sent it), outside withTaskCodes.
    if ('error' in outcome) throw new ProtocolError(outcome.error.code, outcome.error.message, outcome.error.data);
    const result = outcome.result;
    return { ...result, _meta: { ...(result['_meta'] as object | undefined), [RELATED_TASK_META_KEY]: { taskId: outcome.taskId } } };
  });
}

/**
 * tasks/result: waits for the task to finish. While it needs input, its requests go to the client
 * on this request's stream (the v1 side channel) and the answers feed the task.
 */
async function awaitOutcome(
  tasks: TaskService,
  identity: Identity,
  taskId: string,
  ctx: ServerContext,
): Promise<{ taskId: string } & ({ result: Record<string, unknown> } | { error: TaskError })> {
  for (;;) {
    const view = await tasks.get(identity, taskId);
    if (isTerminal(view.status)) {
      // A failed task with a result holds the call's own isError answer: what the call returns.
      if ((view.status === 'completed' || view.status === 'failed') && view.result) return { taskId, result: view.result };
      if (view.status === 'failed' && view.error) return { taskId, error: view.error };
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `The task ended ${view.status} without a result`);
    }
    if (view.status === 'input_required' && view.inputRequests) {
      const answers: Record<string, unknown> = {};
      for (const [key, raw] of Object.entries(view.inputRequests)) {
        const parsed = inputRequestSchema.safeParse(raw);
        if (!parsed.success) continue;
        const params = { ...parsed.data.params, _meta: { ...(parsed.data.params?.['_meta'] as object | undefined), [RELATED_TASK_META_KEY]: { taskId } } };
        answers[key] = await ctx.mcpReq.send({ method: parsed.data.method as RequestMethod, params }, { signal: ctx.mcpReq.signal });
      }
      await tasks.supplyInput(identity, taskId, answers);
      continue;
    }
    if (tasks.isStopping) throw hubStopping(taskId);
    await nextChange(tasks, taskId, ctx.mcpReq.signal);
  }
}

/** `hub_stopping`, as its row in the error table gives it: the task goes on where it is kept, and is read again later. */
function hubStopping(taskId: string): ProtocolError {
  const spec = ERROR_SPECS.hub_stopping.mcp;
  const code = spec.kind === 'jsonrpc' ? spec.code : ProtocolErrorCode.InternalError;
  return new ProtocolError(code, `the hub is stopping: tasks/result of ${taskId} ends unanswered; ask again once the hub is back`, { code: 'hub_stopping' });
}

function nextChange(tasks: TaskService, taskId: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      unwatch();
      signal.removeEventListener('abort', aborted);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const aborted = () => {
      cleanup();
      reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, 'tasks/result was cancelled'));
    };
    const timer = setTimeout(done, RESULT_POLL_MS);
    const unwatch = tasks.watch(taskId, done);
    if (signal.aborted) aborted();
    else signal.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * notifications/tasks/status to the session that created the task, on each change, until it
 * finishes (the spec's MAY: clients still poll tasks/get).
 */
export function announceStatus(server: Server, tasks: TaskService, identity: Identity, taskId: string): void {
  const unwatch = tasks.watch(taskId, () => {
    void tasks
      .get(identity, taskId)
      .then(async (view) => {
        if (isTerminal(view.status)) unwatch();
        await server.notification({ method: 'notifications/tasks/status', params: { ...legacyTask(view) } });
      })
      .catch(() => unwatch()); // the session is gone, or the task expired
  });
}

import { CLIENT_CAPABILITIES_META_KEY, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Identity } from '../../identity/identity.js';
import { ANY_PARAMS, TASKS_EXTENSION, taskParams, tasksExtensionRequired, withTaskCodes } from './errors.js';
import type { TaskService } from './service.js';
import { detailedTask } from './wire.js';

const taskIdParams = z.looseObject({ taskId: z.string().min(1).max(200) });

/** Whether client capabilities (a 2026 request's envelope, or a 2025 initialize) declare the Tasks extension. */
export function declaresTasks(capabilities: unknown): boolean {
  if (typeof capabilities !== 'object' || capabilities === null) return false;
  const extensions: unknown = (capabilities as { extensions?: unknown }).extensions;
  if (typeof extensions !== 'object' || extensions === null) return false;
  return (extensions as Record<string, unknown>)[TASKS_EXTENSION] !== undefined;
}

/** The capabilities a 2026-07-28 request declares in its own envelope (SEP-2575: per request, no session). */
export function envelopeCapabilities(ctx: ServerContext): unknown {
  const envelope: Record<string, unknown> | undefined = ctx.mcpReq.envelope;
  return envelope?.[CLIENT_CAPABILITIES_META_KEY];
}

/**
 * tasks/get, tasks/update and tasks/cancel on a 2026-07-28 server (SEP-2663). The SDK serves none
 * of them; it routes these names to handlers registered with their own schemas, and answers the
 * v1 tasks/result and tasks/list with -32601 itself. Each request must declare the extension
 * (-32021 otherwise), and sees only tasks of the identity it was authenticated as.
 */
export function registerTaskMethods(server: Server, tasks: TaskService, identity: Identity): void {
  const gate = (ctx: ServerContext, method: string): void => {
    if (!declaresTasks(envelopeCapabilities(ctx))) throw tasksExtensionRequired(method);
  };
  server.setRequestHandler('tasks/get', ANY_PARAMS, (raw, ctx) =>
    withTaskCodes(async () => {
      const params = taskParams('tasks/get', taskIdParams, raw);
      gate(ctx, 'tasks/get');
      return detailedTask(await tasks.get(identity, params.taskId));
    }),
  );
  // The acks are empty results; the SDK adds `resultType: "complete"`. The task's new state is
  // read with the next tasks/get.
  server.setRequestHandler('tasks/update', ANY_PARAMS, (raw, ctx) =>
    withTaskCodes(async () => {
      const params = taskParams('tasks/update', taskIdParams, raw);
      gate(ctx, 'tasks/update');
      // The SDK lifts `inputResponses` off the params (as on a tools/call retry) and keeps only the
      // entries shaped like responses; those are the ones a task can use.
      await tasks.supplyInput(identity, params.taskId, ctx.mcpReq.inputResponses ?? {});
      return {};
    }),
  );
  server.setRequestHandler('tasks/cancel', ANY_PARAMS, (raw, ctx) =>
    withTaskCodes(async () => {
      const params = taskParams('tasks/cancel', taskIdParams, raw);
      gate(ctx, 'tasks/cancel');
      await tasks.cancel(identity, params.taskId);
      return {};
    }),
  );
}

import { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { toHubError } from '../../errors.js';
import { isRecord } from '../../is-record.js';
import { describeIssues } from '../hub-server.js';
import type { TaskError } from './types.js';

/** The extension's id, in capabilities and in the -32021 error's data. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * SEP-2663: an unknown, expired or foreign task id is -32602 with one message for all three, so a
 * caller cannot probe for other users' task ids. The hub's code rides in `data`, as on every
 * JSON-RPC error of the hub (docs/errors.md), so a client tells it from bad params without reading text.
 */
export function taskNotFound(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, 'Task not found', { code: 'task_not_found' });
}

/**
 * SEP-2575 "Missing Required Capabilities" (-32021): the request needs the Tasks extension and
 * the client did not declare it; the data names what to declare, shaped like client capabilities.
 */
export function tasksExtensionRequired(what: string): MissingRequiredClientCapabilityError {
  return new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    `${what} needs the ${TASKS_EXTENSION} extension: declare it in the client capabilities`,
  );
}

/**
 * A failed task carries a JSON-RPC error: the protocol error the work raised, or the hub error
 * table's code for the rest (SEP-2663 keeps `failed` for protocol-level errors; a tool's own
 * failure is a completed task with `isError`).
 */
export function toTaskError(err: unknown): TaskError {
  if (err instanceof ProtocolError) {
    const data: unknown = err.data;
    return data === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, data };
  }
  const e = toHubError(err, 'internal');
  return { code: e.spec.mcp.kind === 'jsonrpc' ? e.spec.mcp.code : ProtocolErrorCode.InternalError, message: e.message };
}

/**
 * What the SDK is given to check a tasks/* request's params against: any object. They are checked
 * by `taskParams` instead, since the SDK's own -32602 carries no hub code.
 */
export const ANY_PARAMS = { params: z.looseObject({}) };

/** A tasks/* request's params, or -32602 worded as HubServer words the SDK's checks. */
export function taskParams<S extends z.ZodType>(method: string, schema: S, params: unknown): z.output<S> {
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid params for ${method}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * Runs a tasks/* handler's work with its refusals coded: a -32602 without a hub code (bad params,
 * a bad cursor, a cancel refused, tasks/update on a task that takes no input) gets `invalid_params`,
 * as tools/call's do; `task_not_found` and anything else go as they are.
 */
export async function withTaskCodes<R>(work: () => Promise<R>): Promise<R> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.InvalidParams) throw err;
    const data: unknown = err.data;
    if (data !== undefined && (!isRecord(data) || data['code'] !== undefined)) throw err;
    throw new ProtocolError(err.code, err.message, { ...(isRecord(data) ? data : {}), code: 'invalid_params' });
  }
}

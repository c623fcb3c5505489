import { MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { toHubError } from '../../errors.js';
import type { TaskError } from './types.js';

/** The extension's id, in capabilities and in the -32021 error's data. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * SEP-2663: an unknown, expired or foreign task id is -32602 with one message for all three, so a
 * caller cannot probe for other users' task ids.
 */
export function taskNotFound(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, 'Task not found');
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

import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { ERROR_META_KEY, ERROR_SPECS } from '../../errors.js';
import { toolError, type CallContext } from '../../mcp/source.js';
import type { AgentMetrics } from '../metrics.js';
import { EXPIRED_ERROR, isFinalTask, type AgentTask, type AgentTaskStore, type TaskOwner } from './types.js';
import { describeIssues } from '../../mcp/hub-server.js';

/** `agent__task_status`: reserved, no agent may be named `task_status` (ARCHITECTURE.md). */
export const TASK_STATUS = 'task_status';

/** What an async agent call returns past its wait. */
export const TASK_HANDLE_SCHEMA = {
  type: 'object',
  properties: { taskId: { type: 'string' }, state: { type: 'string' } },
  required: ['taskId', 'state'],
} as const;

/**
 * An async agent's declared output widened to accept the handle too (MCP wants an object schema on
 * top). The declared schema moves to `anyOf[0]`, so what its local references point at must still
 * be found from the new root, where clients resolve them (the 1.x SDK compiles every listed output
 * schema; one that fails to compile makes it refuse every call): its `$defs`/`definitions` (and
 * `$schema`) go to the root, and any other `#…` reference is moved under `/anyOf/0`.
 */
export function asyncOutputSchema(output: Record<string, unknown>): Tool['outputSchema'] {
  const { $defs, definitions, $schema, ...rest } = output;
  const declared = rebased(rest) as Record<string, unknown>;
  return {
    ...($schema === undefined ? {} : { $schema }),
    type: 'object',
    anyOf: [{ type: 'object', ...declared }, TASK_HANDLE_SCHEMA],
    ...($defs === undefined ? {} : { $defs: rebased($defs) }),
    ...(definitions === undefined ? {} : { definitions: rebased(definitions) }),
  } as Tool['outputSchema'];
}

/** Keywords whose values are data, not schemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/** A copy with each local `$ref` into the declared schema itself pointed under `/anyOf/0`. */
function rebased(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebased);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string') out[k] = rebasedRef(v);
    else out[k] = DATA_KEYWORDS.has(k) ? v : rebased(v);
  }
  return out;
}

function rebasedRef(ref: string): string {
  // Definitions stay at the root; another pointer (or the root itself) now lives under anyOf/0.
  if (ref === '#' || ref === '#/') return '#/anyOf/0';
  if (!ref.startsWith('#/') || ref.startsWith('#/$defs/') || ref.startsWith('#/definitions/')) return ref;
  return `#/anyOf/0${ref.slice(1)}`;
}

const inputSchema = z.strictObject({ taskId: z.string().min(1).max(128) });

export const TASK_STATUS_TOOL: Tool = {
  name: TASK_STATUS,
  title: 'Agent task status',
  description: "The state of an agent task (its taskId came back when an agent call outlasted its wait) and, once it completed, the agent's answer.",
  inputSchema: { type: 'object', properties: { taskId: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['taskId'], additionalProperties: false },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
};

/**
 * The owner's task as it is now; an unanswered one past its expiry is timed_out first. The one
 * read of both `agent__task_status` and MCP Tasks' tasks/get.
 */
export async function readTask(id: string, owner: TaskOwner, d: TaskReadDeps): Promise<AgentTask | undefined> {
  const t = await d.tasks.get(id, owner);
  if (t === undefined || isFinalTask(t.state) || d.clock.now() < t.expiresAt) return t;
  // Counted as its agent's timeout by whoever ends it (README, Monitoring): the hourly sweep only
  // counts the tasks it ends itself, so one its owner read past expiry first was never counted.
  if (await d.tasks.finish(t.id, { state: 'timed_out', error: EXPIRED_ERROR })) d.metered?.taskEnded(t.answeredBy ?? t.agent, { state: 'timed_out' });
  return d.tasks.get(id, owner);
}

/** What reading a task needs: the store, the clock its expiry is read off, and the metrics an expiry is counted in. */
export interface TaskReadDeps {
  tasks: AgentTaskStore;
  clock: Clock;
  metered?: Pick<AgentMetrics, 'taskEnded'> | undefined;
}

/**
 * A task shown to its owner only: another user's id answers as an unknown one. An unanswered task
 * past its expiry is timed_out here, with the same guarded update a callback would race.
 */
export async function taskStatus(args: Record<string, unknown> | undefined, ctx: CallContext, d: TaskReadDeps): Promise<CallToolResult> {
  const parsed = inputSchema.safeParse(args ?? {});
  if (!parsed.success)
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid arguments for agent__task_status: ${describeIssues(parsed.error.issues)}`);
  const { taskId } = parsed.data;
  const t = await readTask(taskId, { tenant: ctx.identity.tenant, user: ctx.identity.user }, d);
  // A failed call carries its code as every other one does (README, HTTP routes): `not_found`, not retryable.
  if (t === undefined)
    return toolError(`No agent task ${taskId} of yours is known.`, {
      _meta: { [ERROR_META_KEY]: { code: 'not_found', retryable: ERROR_SPECS.not_found.retryable } },
    });
  const status = {
    taskId: t.id,
    state: t.state,
    agent: t.agent,
    ...(t.answeredBy ? { answeredBy: t.answeredBy } : {}),
    ...(t.state === 'completed' ? { result: t.result } : {}),
    ...(t.error ? { error: t.error } : {}),
    // The agents tried before (or, when none took the task, every one), and why each gave no answer.
    ...(t.failures.length > 0 ? { failures: t.failures.map((f) => ({ agent: f.agent, reason: f.reason, message: f.message })) } : {}),
    createdAt: new Date(t.createdAt).toISOString(),
    updatedAt: new Date(t.updatedAt).toISOString(),
  };
  return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
}

import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { CLIENT_CAPABILITIES_META_KEY, isInputRequiredResult, type CallToolResult, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../../../clock.js';
import { modernParams } from '../../downstream/modern.js';
import { paramHeadersFor } from '../../param-headers.js';
import type { CallContext, InputRequired } from '../../source.js';
import { TASKS_EXTENSION } from '../errors.js';
import { TASK_STATUSES } from '../types.js';
import type { CreateTaskResult } from '../wire.js';

/** What a 2026-07-28 server that serves the Tasks extension (SEP-2663) answers to tasks/get: a DetailedTask. */
const detailedSchema = z.looseObject({
  taskId: z.string().min(1).max(500),
  status: z.enum(TASK_STATUSES),
  statusMessage: z.string().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.looseObject({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).optional(),
  inputRequests: z.record(z.string(), z.unknown()).optional(),
});
export type DetailedDownstreamTask = z.infer<typeof detailedSchema>;
/** The task a task-augmented tools/call created (CreateTaskResult, flat): only its id is kept. */
const createdSchema = z.looseObject({ taskId: z.string().min(1).max(500) });
const ackSchema = z.looseObject({});

/**
 * The client SDK decodes only `complete` and `input_required` results and refuses a CreateTaskResult
 * (`resultType: "task"`) before any schema sees it. The connection's incoming responses are read
 * first here: a task result reaches the SDK as a complete tools/call result that carries the task
 * under this key of its `structuredContent`, and only this link reads it back out.
 */
const TASK_CARRIER = 'switchboard/downstream-task';

export interface ModernTaskLinkOptions {
  server: string;
  client: Client;
  timeoutMs: number;
  clock: Clock;
  /** Makes the hub task of a caller's task-augmented call (the backing's `callModern`). */
  start: (
    link: ModernTaskLink,
    tool: string,
    args: Record<string, unknown> | undefined,
    ctx: CallContext,
  ) => Promise<CreateTaskResult | InputRequired | CallToolResult>;
}

/**
 * One connection to a 2026-07-28 downstream server that declares the Tasks extension. There are no
 * sessions on that wire: a task id stays valid for the server, not for one connection, and every
 * request about it declares the extension in its own envelope (SEP-2575), as the server requires.
 * The SDK sets the `Mcp-Name` header from `params.taskId` on tasks/* requests itself.
 */
export class ModernTaskLink {
  /** Names this connection in the hub's task records; never shown to a caller. */
  readonly id = randomUUID();
  readonly server: string;
  /** Downstream task ids this connection started, with their expiry: a connection holding any is not idle. */
  private readonly followed = new Map<string, number>();

  constructor(private readonly opts: ModernTaskLinkOptions) {
    this.server = opts.server;
    carryTaskResults(opts.client);
  }

  get busy(): number {
    const now = this.opts.clock.now();
    for (const [id, expiresAt] of this.followed) if (expiresAt <= now) this.followed.delete(id);
    return this.followed.size;
  }

  start(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CreateTaskResult | InputRequired | CallToolResult> {
    return this.opts.start(this, tool, args, ctx);
  }

  /** A 2026 downstream sends no server→client requests outside a call's own result. */
  request(): undefined {
    return undefined;
  }

  /**
   * A caller's task-augmented call, sent on as one: the caller's envelope (with the extension
   * declared), its answers and the downstream's `requestState` on a retry. The server decides:
   * a task, an input round before one (SEP-2663 MRTR composition), or a plain result.
   */
  async call(
    tool: string,
    args: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<{ kind: 'task'; taskId: string } | { kind: 'result'; result: CallToolResult | InputRequired }> {
    const params = modernParams(ctx);
    const meta = params['_meta'] as Record<string, unknown>;
    meta[CLIENT_CAPABILITIES_META_KEY] = withTasks(meta[CLIENT_CAPABILITIES_META_KEY]);
    const headers = paramHeadersFor(ctx.inputSchema, args);
    const result = await this.opts.client.request(
      { method: 'tools/call', params: { name: tool, ...(args === undefined ? {} : { arguments: args }), ...params } },
      z.looseObject({}),
      { signal: ctx.signal, timeout: this.opts.timeoutMs, allowInputRequired: true, ...(headers ? { headers } : {}) },
    );
    if (isInputRequiredResult(result)) return { kind: 'result', result: result as InputRequired };
    const carried: unknown = (result['structuredContent'] as Record<string, unknown> | undefined)?.[TASK_CARRIER];
    if (carried === undefined) return { kind: 'result', result: result as CallToolResult };
    return { kind: 'task', taskId: createdSchema.parse(carried).taskId };
  }

  follow(taskId: string, expiresAt: number): void {
    this.followed.set(taskId, expiresAt);
  }

  forget(taskId: string): void {
    this.followed.delete(taskId);
  }

  get(taskId: string): Promise<DetailedDownstreamTask> {
    return this.send('tasks/get', { taskId }, detailedSchema);
  }

  /** tasks/update: the caller's answers, keyed as the downstream keyed its input requests. */
  async update(taskId: string, inputResponses: Readonly<Record<string, unknown>>): Promise<void> {
    await this.send('tasks/update', { taskId, inputResponses }, ackSchema);
  }

  async cancel(taskId: string): Promise<void> {
    await this.send('tasks/cancel', { taskId }, ackSchema);
  }

  private send<T extends z.ZodType>(method: string, params: Record<string, unknown>, schema: T): Promise<z.infer<T>> {
    const envelope = { [CLIENT_CAPABILITIES_META_KEY]: withTasks(undefined) };
    return this.opts.client.request({ method, params: { ...params, _meta: envelope } }, schema, { timeout: this.opts.timeoutMs }) as Promise<z.infer<T>>;
  }
}

/** Whether a 2026-07-28 connection's server declares the Tasks extension. */
export function serverDeclaresTasks(client: Client): boolean {
  const extensions: unknown = (client.getServerCapabilities() as { extensions?: unknown } | undefined)?.extensions;
  return typeof extensions === 'object' && extensions !== null && (extensions as Record<string, unknown>)[TASKS_EXTENSION] !== undefined;
}

/** The capabilities a request declares, with the Tasks extension added (the hub's own calls of tasks/*, and a caller's task call). */
function withTasks(capabilities: unknown): Record<string, unknown> {
  const caps = typeof capabilities === 'object' && capabilities !== null ? (capabilities as Record<string, unknown>) : {};
  const ext = caps['extensions'];
  const extensions = typeof ext === 'object' && ext !== null ? (ext as Record<string, unknown>) : {};
  return { ...caps, extensions: { ...extensions, [TASKS_EXTENSION]: extensions[TASKS_EXTENSION] ?? {} } };
}

/** See TASK_CARRIER: rewrites incoming CreateTaskResults, once per connection. */
function carryTaskResults(client: Client): void {
  const transport = client.transport as (typeof client.transport & { [TASK_CARRIER]?: true }) | undefined;
  if (!transport || transport[TASK_CARRIER]) return;
  transport[TASK_CARRIER] = true;
  const deliver = transport.onmessage;
  if (!deliver) return;
  transport.onmessage = (message: JSONRPCMessage, extra?: unknown) => {
    const result: unknown = 'result' in message ? message.result : undefined;
    if (typeof result === 'object' && result !== null && (result as { resultType?: unknown }).resultType === 'task') {
      const { resultType: _task, ...task } = result as Record<string, unknown>;
      const carried = { resultType: 'complete', content: [], structuredContent: { [TASK_CARRIER]: task } };
      deliver.call(transport, { ...message, result: carried } as JSONRPCMessage, extra as never);
      return;
    }
    deliver.call(transport, message, extra as never);
  };
}

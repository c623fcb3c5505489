import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError, ProtocolErrorCode, RELATED_TASK_META_KEY } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../../../clock.js';
import type { CallContext } from '../../source.js';
import { TASK_STATUSES } from '../types.js';
import type { CreateTaskResult } from '../wire.js';

/** A task as a 2025-11-25 server shows it (tools/call with `task`, tasks/get, tasks/cancel). */
const taskSchema = z.looseObject({
  taskId: z.string().min(1).max(500),
  status: z.enum(TASK_STATUSES),
  statusMessage: z.string().optional(),
});
export type DownstreamTask = z.infer<typeof taskSchema>;
const createdSchema = z.looseObject({ task: taskSchema });
const resultSchema = z.record(z.string(), z.unknown());
const statusParams = z.looseObject({ taskId: z.string(), status: z.string().optional(), statusMessage: z.string().optional() });

/** A server→client request of a downstream task, held until the hub task's owner answers it. */
interface PendingInput {
  request: { method: string; params?: Record<string, unknown> };
  resolve: (answer: unknown) => void;
  reject: (err: Error) => void;
}

interface Followed {
  hubId: string;
  changed: () => void;
  expiresAt: number;
  inputs: Map<string, PendingInput>;
  /** A tasks/result is open: the v1 side channel that carries the task's input requests. */
  pumping: boolean;
  /** The last status notification relayed, to pass on changes only. */
  lastSaid?: string;
}

export interface DownstreamTaskLinkOptions {
  server: string;
  client: Client;
  timeoutMs: number;
  clock: Clock;
  /** Makes the hub task of a caller's task-augmented call (the backing's `call`). */
  start: (link: DownstreamTaskLink, tool: string, args: Record<string, unknown> | undefined, ctx: CallContext) => Promise<CreateTaskResult>;
  /** The connection ended: these hub tasks can no longer be reached. */
  onClose: (link: DownstreamTaskLink, hubIds: string[]) => void;
}

/**
 * One connection to a downstream server that runs tools as 2025-11-25 experimental tasks. Its tasks
 * live in that server's session (or process, for stdio), so every request about one must go over
 * this very connection; a new connection (a restart) cannot reach them.
 */
export class DownstreamTaskLink {
  /** Names this connection in the hub's task records; never shown to a caller. */
  readonly id = randomUUID();
  readonly server: string;
  private readonly followed = new Map<string, Followed>();
  private inputSeq = 0;
  private closed = false;

  constructor(private readonly opts: DownstreamTaskLinkOptions) {
    this.server = opts.server;
    opts.client.setNotificationHandler('notifications/tasks/status', { params: statusParams }, (p) => {
      const f = this.followed.get(p.taskId);
      // A v1 server repeats a status (its SDK marks input_required on each request it queues):
      // the owner hears of a change once.
      const said = `${p.status}\n${p.statusMessage ?? ''}`;
      if (!f || f.lastSaid === said) return;
      f.lastSaid = said;
      f.changed();
    });
    // Whatever ends the connection (a crash, a restart, the hub stopping) ends its tasks for the hub.
    const previous = opts.client.onclose;
    opts.client.onclose = () => {
      this.close();
      previous?.();
    };
  }

  /** Tasks still followed and not expired: a connection holding any is not idle. */
  get busy(): number {
    const now = this.opts.clock.now();
    for (const [id, f] of this.followed) if (f.expiresAt <= now) this.forget(id);
    return this.followed.size;
  }

  /** A caller's task-augmented call of a tool of this server: answers at once with the hub's task. */
  start(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CreateTaskResult> {
    return this.opts.start(this, tool, args, ctx);
  }

  /** A task-augmented tools/call: the downstream answers at once with its task. */
  async call(tool: string, args: Record<string, unknown> | undefined, meta: Record<string, unknown> | undefined, ttlMs: number, signal: AbortSignal) {
    const params = {
      name: tool,
      ...(args === undefined ? {} : { arguments: args }),
      ...(meta && Object.keys(meta).length ? { _meta: meta } : {}),
      task: { ttl: ttlMs },
    };
    const created = await this.opts.client.request({ method: 'tools/call', params }, createdSchema, { signal, timeout: this.opts.timeoutMs });
    return created.task;
  }

  /** Relays the downstream task's status notifications and input requests to `changed` (the hub task's watchers). */
  follow(taskId: string, hubId: string, expiresAt: number, changed: () => void): () => void {
    this.followed.set(taskId, { hubId, changed, expiresAt, inputs: new Map(), pumping: false });
    return () => this.forget(taskId);
  }

  forget(taskId: string): void {
    const f = this.followed.get(taskId);
    this.followed.delete(taskId);
    for (const input of f?.inputs.values() ?? []) input.reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, 'The task no longer waits for this answer'));
  }

  get(taskId: string): Promise<DownstreamTask> {
    return this.opts.client.request({ method: 'tasks/get', params: { taskId } }, taskSchema, { timeout: this.opts.timeoutMs });
  }

  /** The outcome of a finished task (tasks/result answers at once then). */
  result(taskId: string): Promise<Record<string, unknown>> {
    return this.opts.client.request({ method: 'tasks/result', params: { taskId } }, resultSchema, { timeout: this.opts.timeoutMs });
  }

  async cancel(taskId: string): Promise<void> {
    await this.opts.client.request({ method: 'tasks/cancel', params: { taskId } }, z.looseObject({}), { timeout: this.opts.timeoutMs });
    this.forget(taskId);
  }

  /**
   * A v1 server queues a task's requests (elicitation, sampling) until the client opens
   * tasks/result, and sends them on its stream. While the task waits for input one is kept open;
   * it returns when the task has finished, and the next tasks/get reads the outcome.
   */
  pump(taskId: string): void {
    const f = this.followed.get(taskId);
    if (!f || f.pumping) return;
    f.pumping = true;
    const ttl = Math.max(1, f.expiresAt - this.opts.clock.now());
    void this.opts.client
      .request({ method: 'tasks/result', params: { taskId } }, resultSchema, { timeout: ttl })
      .catch(() => undefined)
      .then(() => {
        f.pumping = false;
        f.changed();
      });
  }

  /** The requests the downstream task is waiting on, keyed for the hub's caller. */
  pending(taskId: string): Record<string, unknown> | undefined {
    const inputs = this.followed.get(taskId)?.inputs;
    if (!inputs?.size) return undefined;
    return Object.fromEntries([...inputs].map(([key, input]) => [key, input.request]));
  }

  /** Answers to pending requests; keys not pending are ignored (SEP-2663). */
  answer(taskId: string, responses: Readonly<Record<string, unknown>>): void {
    const inputs = this.followed.get(taskId)?.inputs;
    for (const [key, answer] of Object.entries(responses)) {
      const input = inputs?.get(key);
      if (!input) continue;
      inputs?.delete(key);
      input.resolve(answer);
    }
  }

  /**
   * A downstream server→client request that names one of this connection's followed tasks in its
   * related-task `_meta`: held for the task's owner. Undefined for any other request, which the
   * connection's calls route as before.
   */
  request(method: string, params: Record<string, unknown> | undefined, signal: AbortSignal): Promise<unknown> | undefined {
    const related = relatedTaskOf(params);
    const f = related === undefined ? undefined : this.followed.get(related);
    if (!f) return undefined;
    return new Promise((resolve, reject) => {
      const key = `input_${++this.inputSeq}`;
      f.inputs.set(key, { request: { method, ...(params ? { params: withoutRelatedTask(params) } : {}) }, resolve, reject });
      signal.addEventListener('abort', () => f.inputs.delete(key) && reject(new ProtocolError(ProtocolErrorCode.InvalidRequest, 'cancelled')), { once: true });
      f.changed();
    });
  }

  /** Ends every followed task for the hub (the connection is gone); once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const hubIds = [...this.followed.values()].map((f) => f.hubId);
    const changed = [...this.followed.values()].map((f) => f.changed);
    for (const id of [...this.followed.keys()]) this.forget(id);
    this.opts.onClose(this, hubIds);
    for (const c of changed) c();
  }
}

function relatedTaskOf(params: Record<string, unknown> | undefined): string | undefined {
  const meta = params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const related: unknown = (meta as Record<string, unknown>)[RELATED_TASK_META_KEY];
  const id: unknown = typeof related === 'object' && related !== null ? (related as { taskId?: unknown }).taskId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** The downstream's related-task `_meta` names its own task id: the caller gets the hub's instead, or none. */
export function withoutRelatedTask<T extends Record<string, unknown>>(value: T): T {
  const meta = value['_meta'];
  if (typeof meta !== 'object' || meta === null || !(RELATED_TASK_META_KEY in meta)) return value;
  const { [RELATED_TASK_META_KEY]: _drop, ...rest } = meta as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return { ...value, _meta: rest };
  const { _meta: _empty, ...bare } = value;
  return bare as T;
}

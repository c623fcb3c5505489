import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Client } from '@modelcontextprotocol/client';
import { isInputRequiredResult, ProtocolError, ProtocolErrorCode, SdkHttpError } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../../../clock.js';
import { PROCESS_ID, processOfHolder, taskHolderId } from '../../downstream/held-calls.js';
import { SessionEnded } from '../../downstream/session-ended.js';
import { describeError } from '../../../errors.js';
import type { CallContext } from '../../source.js';
import { isTerminal, type TaskBacking, type TaskRecord, type TaskRepository, type TaskState } from '../types.js';
import type { CreateTaskResult } from '../wire.js';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { InputRequired } from '../../source.js';
import { ModernTaskLink, serverDeclaresTasks } from './downstream-link-2026.js';
import { DownstreamTaskLink, withoutRelatedTask } from './downstream-link.js';

export type { CreateTaskResult };

/**
 * What a hub task record keeps of a downstream task (its `backing.id`): the process and the
 * connection it lives on, and the downstream's own task id. The record is the hub's secret: the
 * caller only ever sees the hub's task id, and with a shared stdio process the downstream ids of
 * every user live side by side.
 */
const refSchema = z.object({ process: z.string(), link: z.string(), server: z.string(), task: z.string(), era: z.literal('2026').optional() });
type Ref = z.infer<typeof refSchema>;

/** JSON-RPC internal error: a failed downstream task carries no error code of its own on the 2025 wire. */
const INTERNAL_ERROR = -32603;

/**
 * The `downstream` task backing: a task-augmented call of a downstream tool that serves tasks
 * (2025-11-25 experimental tasks, as `@modelcontextprotocol/server-everything` speaks them) becomes
 * a downstream task behind a hub task. tasks/get, result and cancel go to the downstream task over
 * the connection that created it; its status notifications and input requests reach the hub
 * task's watchers. The downstream's last word is kept in the hub record, so a finished task reads
 * the same after the downstream forgot it.
 */
export class DownstreamTaskBacking implements TaskBacking {
  readonly kind = 'downstream' as const;
  /** PROCESS_ID first, as a local task's (src/replicas/tasks.ts finds the replica holding the link by it). */
  private readonly processId = taskHolderId(randomUUID());
  private readonly links = new Map<string, DownstreamTaskLink>();
  /**
   * The current connection to each 2026-07-28 server that serves tasks. That wire has no sessions,
   * so a task outlives the connection that started it and is asked about over the current one.
   */
  private readonly modern = new Map<string, ModernTaskLink>();

  constructor(private readonly opts: { repo: TaskRepository; clock: Clock; log: Logger }) {}

  /**
   * A connection to a downstream server that is ready: a link when it serves tasks of tools/call,
   * on the 2025-11-25 wire (experimental tasks) or on 2026-07-28 (the Tasks extension, SEP-2663),
   * else undefined.
   */
  attach(server: string, client: Client, timeoutMs: number): DownstreamTaskLink | ModernTaskLink | undefined {
    if (client.getProtocolEra() === 'modern') {
      if (!serverDeclaresTasks(client)) {
        this.modern.delete(server);
        return undefined;
      }
      const link = new ModernTaskLink({
        server,
        client,
        timeoutMs,
        clock: this.opts.clock,
        start: (l, tool, args, ctx) => this.callModern(l, tool, args, ctx),
      });
      this.modern.set(server, link);
      return link;
    }
    const caps: unknown = client.getServerCapabilities();
    const calls: unknown = (caps as { tasks?: { requests?: { tools?: { call?: unknown } } } } | undefined)?.tasks?.requests?.tools?.call;
    if (calls === undefined) return undefined;
    const link = new DownstreamTaskLink({
      server,
      client,
      timeoutMs,
      clock: this.opts.clock,
      start: (l, tool, args, ctx) => this.call(l, tool, args, ctx),
      onClose: (l, hubIds) => this.closed(l, hubIds),
    });
    this.links.set(link.id, link);
    return link;
  }

  /**
   * Runs a caller's task-augmented call as a downstream task and answers with the hub's task. The
   * caller's `_meta` goes along as on any call; the downstream task's id stays in the record.
   */
  async call(link: DownstreamTaskLink, tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CreateTaskResult> {
    const starter = ctx.tasks;
    if (!starter) throw new Error('not a task-augmented call');
    // The downstream keeps the task as long as the hub's record lives: one it forgot sooner (a
    // client's ttl above the default) would read failed, "no longer knows this task", once asked.
    const task = await link.call(tool, args, ctx.meta, starter.ttlMs, ctx.signal);
    const ref: Ref = { process: this.processId, link: link.id, server: link.server, task: task.taskId };
    return starter.backed('downstream', JSON.stringify(ref));
  }

  /**
   * A caller's task-augmented call of a 2026 server's tool, sent on as one. The server decides what
   * it answers: its task (recorded behind a hub task), an input round first, or a plain result.
   */
  async callModern(
    link: ModernTaskLink,
    tool: string,
    args: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<CreateTaskResult | InputRequired | CallToolResult> {
    const starter = ctx.tasks;
    if (!starter) throw new Error('not a task-augmented call');
    const answer = await link.call(tool, args, ctx);
    if (answer.kind === 'result') {
      // A 2025-11-25 caller (the era with a server→client request channel) asked for a task of a
      // tool listed `taskSupport: "optional"`, and its SDK reads the answer as a CreateTaskResult:
      // a plain result there fails the call. So the server's direct answer becomes a task that has
      // already its outcome. An input round stays one: that era's transport asks the client and
      // calls again. A 2026-07-28 caller takes a plain result (SEP-2663: the server decides).
      if (ctx.request !== undefined && !isInputRequiredResult(answer.result)) {
        const result = answer.result;
        return starter.runLocal(async () => ({ ...result }));
      }
      return answer.result;
    }
    const ref: Ref = { process: this.processId, link: link.id, server: link.server, task: answer.taskId, era: '2026' };
    return starter.backed('downstream', JSON.stringify(ref));
  }

  follow(record: TaskRecord, changed: () => void): () => void {
    const ref = parseRef(record);
    if (ref.era === '2026') {
      const link = this.modern.get(ref.server);
      link?.follow(ref.task, record.expiresAt);
      return () => link?.forget(ref.task);
    }
    const link = this.links.get(ref.link);
    return link ? link.follow(ref.task, record.id, record.expiresAt, changed) : () => {};
  }

  async state(record: TaskRecord): Promise<TaskState> {
    if (isTerminal(record.status)) return stored(record);
    const ref = parseRef(record);
    if (ref.era === '2026') return this.modernState(record, ref);
    const link = this.links.get(ref.link);
    if (!link) {
      // Another hub process on this data dir made it over its own connection: only that one can ask.
      if (ref.process !== this.processId) {
        const gone = holderGone(ref.process) ? holderStopped(record) : undefined;
        if (gone) return this.settle(record, gone);
        return { ...stored(record), statusMessage: `This task runs on ${ref.server} through another Switchboard process; ask that process.` };
      }
      return this.settle(record, lost(ref.server));
    }
    let task: Awaited<ReturnType<DownstreamTaskLink['get']>>;
    try {
      task = await link.get(ref.task);
    } catch (err) {
      return this.unanswered(record, ref, err);
    }
    const message = task.statusMessage === undefined ? {} : { statusMessage: scrub(task.statusMessage, ref, record) };
    switch (task.status) {
      case 'working':
      case 'input_required': {
        const next: TaskState = { status: task.status, ...message };
        if (task.status === 'input_required') {
          link.pump(ref.task);
          const pending = link.pending(ref.task);
          if (pending) next.inputRequests = scrub(pending, ref, record);
        }
        if (next.status !== record.status || next.statusMessage !== record.statusMessage)
          await this.opts.repo.update(record.id, { status: next.status, ...message }, this.opts.clock.now());
        return next;
      }
      case 'completed': {
        let result: Record<string, unknown>;
        try {
          result = withoutRelatedTask(await link.result(ref.task));
        } catch (err) {
          return this.unanswered(record, ref, err);
        }
        return this.settle(record, { status: 'completed', result: scrub(result, ref, record), ...message }, link, ref);
      }
      case 'failed': {
        const answer = await link.result(ref.task).then(withoutRelatedTask, () => undefined);
        const why = answer === undefined ? undefined : firstText(answer);
        const detail = [task.statusMessage, why].filter(Boolean).join(': ');
        const message = scrub(`${ref.server}: the task failed${detail ? `: ${detail}` : ''}`, ref, record);
        // The tool's own isError answer is what the call returns (2025-11-25 tasks/result), so it is
        // kept as the result, as a hub task's is: a 2025 tasks/result returns it as the server
        // does, and 2026-07-28 reads it completed with it inlined (SEP-2663 keeps `failed` for
        // JSON-RPC errors). Only a task without such an answer fails with an error.
        if (answer?.['isError'] === true)
          return this.settle(record, { status: 'failed', statusMessage: message, result: scrub(answer, ref, record) }, link, ref);
        return this.settle(record, failed(message), link, ref);
      }
      case 'cancelled':
        return this.settle(record, { status: 'cancelled', ...message }, link, ref);
    }
  }

  async cancel(record: TaskRecord): Promise<void> {
    const ref = parseRef(record);
    const link = ref.era === '2026' ? this.modern.get(ref.server) : this.links.get(ref.link);
    if (link) {
      try {
        await link.cancel(ref.task);
        await this.opts.repo.update(record.id, { status: 'cancelled', statusMessage: 'Cancelled by the client' }, this.opts.clock.now());
        return;
      } catch {
        // It finished first (a v1 server refuses to cancel a finished task), is gone, or is not
        // this connection's: what it is now is recorded below.
      }
    }
    const now = await this.state(record);
    // Still running through another hub process on the data dir, the only one whose connection
    // can ask the server to stop it: answered as done, the cancel was a silent no-op and the work
    // went on. Said instead, as for answers that cannot reach it (supplyInput).
    if (!isTerminal(now.status) && ref.process !== this.processId) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot cancel this task here: it runs on ${ref.server} through another Switchboard process, and only that process can ask ${ref.server} to stop it; cancel it there`,
      );
    }
  }

  async supplyInput(record: TaskRecord, responses: Readonly<Record<string, unknown>>): Promise<void> {
    if (isTerminal(record.status)) return;
    const ref = parseRef(record);
    // Only the process whose connection started the task can hand the downstream an answer (a
    // 2025 task lives in that connection's session; a 2026 one is read only there). Taken in
    // silence elsewhere, the answer was lost, the task kept asking, and a 2025 tasks/result,
    // which asks the client again after each delivery, asked it the same question over and over.
    const link = ref.process !== this.processId ? undefined : ref.era === '2026' ? this.modern.get(ref.server) : this.links.get(ref.link);
    if (!link) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `This task runs on ${ref.server} through another Switchboard process (or one that stopped without closing it), so it cannot take answers here; call ${record.tool} again`,
      );
    }
    // The answers go on as the caller gave them: the downstream keyed its own input requests.
    if (link instanceof ModernTaskLink) await link.update(ref.task, responses);
    else link.answer(ref.task, responses);
  }

  /** A 2026 task's tasks/get carries its outcome inline: the downstream's words, with the hub's task id. */
  private async modernState(record: TaskRecord, ref: Ref): Promise<TaskState> {
    const link = this.modern.get(ref.server);
    if (ref.process !== this.processId) {
      const gone = holderGone(ref.process) ? holderStopped(record) : undefined;
      if (gone) return this.settle(record, gone);
    }
    if (!link || ref.process !== this.processId) {
      const where = link ? 'through another Switchboard process; ask that process' : 'and is not connected just now; ask again';
      return { ...stored(record), statusMessage: `This task runs on ${ref.server} ${where}.` };
    }
    let task: Awaited<ReturnType<ModernTaskLink['get']>>;
    try {
      task = await link.get(ref.task);
    } catch (err) {
      return this.unanswered(record, ref, err);
    }
    const message = task.statusMessage === undefined ? {} : { statusMessage: scrub(task.statusMessage, ref, record) };
    switch (task.status) {
      case 'working':
      case 'input_required': {
        const next: TaskState = { status: task.status, ...message };
        if (task.status === 'input_required' && task.inputRequests) next.inputRequests = scrub(task.inputRequests, ref, record);
        if (next.status !== record.status || next.statusMessage !== record.statusMessage)
          await this.opts.repo.update(record.id, { status: next.status, ...message }, this.opts.clock.now());
        return next;
      }
      case 'completed': {
        const result = withoutRelatedTask(task.result ?? { content: [] });
        link.forget(ref.task);
        return this.settle(record, { status: 'completed', result: scrub(result, ref, record), ...message });
      }
      case 'failed': {
        link.forget(ref.task);
        const error = task.error ?? { code: INTERNAL_ERROR, message: `${ref.server}: the task failed` };
        return this.settle(record, { status: 'failed', error: scrub(error, ref, record), ...message });
      }
      case 'cancelled':
        link.forget(ref.task);
        return this.settle(record, { status: 'cancelled', ...message });
    }
  }

  /** A request about the task that got no usable answer: an outcome only when the server said the task is gone. */
  private unanswered(record: TaskRecord, ref: Ref, err: unknown): Promise<TaskState> | TaskState {
    const why = scrub(describeError(err), ref, record);
    // The server answered that it has no such task (it restarted, the session or the task expired).
    if (err instanceof ProtocolError) return this.settle(record, failed(`${ref.server} no longer knows this task: ${why}`));
    // Its session is gone: a 404 or a 400 that says so (session-ended.ts), however the transport reported it.
    if (err instanceof SessionEnded || (err instanceof SdkHttpError && (err.data?.status === 404 || err.data?.status === 400))) {
      return this.settle(record, failed(`${ref.server} ended the session this task ran in (it restarted or expired the session): ${why}`));
    }
    // No answer (a timeout, a network error) is not an outcome: the task may still be running, and
    // the caller polls again. A connection that is really gone closes its link and fails it then.
    return { ...stored(record), statusMessage: `${ref.server} did not answer about this task just now (${why}); ask again` };
  }

  /** Stores a final state (guarded: a task finished first keeps its outcome) and stops following it. */
  private async settle(record: TaskRecord, state: TaskState, link?: DownstreamTaskLink, ref?: Ref): Promise<TaskState> {
    const moved = await this.opts.repo.update(record.id, state, this.opts.clock.now());
    if (link && ref) link.forget(ref.task);
    if (moved) return state;
    const now = await this.opts.repo.get(record.id, record.owner, this.opts.clock.now());
    return now ? stored(now) : state;
  }

  /** A connection ended: the tasks it still followed cannot be reached again, so they fail now, with why. */
  private closed(link: DownstreamTaskLink, hubIds: string[]): void {
    this.links.delete(link.id);
    const failed = lost(link.server);
    for (const id of hubIds) {
      // SQLite writes synchronously within the call: the record is failed before the watchers hear of it.
      void this.opts.repo.update(id, failed, this.opts.clock.now()).catch((err: unknown) => {
        this.opts.log.warn({ task: id, err: describeError(err) }, 'could not record a lost downstream task');
      });
    }
    if (hubIds.length) this.opts.log.info({ source: link.server, tasks: hubIds.length }, 'downstream tasks lost with their connection');
  }
}

/**
 * Whether the hub process that holds a task's connection is known to have ended: one on this host
 * whose pid no longer runs, or an earlier process with this very pid (a container's PID 1 after a
 * restart), which a PROCESS_ID other than ours then names. A hub that was killed records nothing,
 * and a 2025-11-25 session (or stdio) asks no replica registry, so without this its downstream
 * tasks read "ask that process" until their ttl. Anything else (another host, a live pid) may
 * still be running it.
 */
export function holderGone(holder: string): boolean {
  const processId = processOfHolder(holder);
  const [host, pidText] = processId.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return processId !== PROCESS_ID;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * What an unfinished downstream task is once the Switchboard process holding its connection is gone
 * (stopped, killed, or silent past the replica registry's heartbeat rule): no process can reach the
 * downstream task again, so it fails, saying why, and a task request is answered from the record
 * from then on. Undefined for a record that is not such a task.
 */
export function holderStopped(record: TaskRecord): TaskState | undefined {
  if (record.backing.kind !== 'downstream' || isTerminal(record.status)) return undefined;
  let ref: Ref;
  try {
    ref = parseRef(record);
  } catch {
    return undefined;
  }
  return failed(
    `The Switchboard process running this task on ${ref.server} stopped, and the task could be reached only through that process's connection to ${ref.server}. Call the tool again.`,
  );
}

function lost(server: string): TaskState {
  return failed(
    `${server} stopped or restarted after this task began, and a downstream task lives only as long as the connection that started it. Call the tool again.`,
  );
}

/** The reason goes in the status message too: a 2025-11-25 tasks/get shows no error. */
function failed(message: string): TaskState {
  return { status: 'failed', statusMessage: message, error: { code: INTERNAL_ERROR, message } };
}

function parseRef(record: TaskRecord): Ref {
  return refSchema.parse(JSON.parse(record.backing.id));
}

function stored(record: TaskRecord): TaskState {
  const { status, result, error, inputRequests, statusMessage } = record;
  return {
    status,
    ...(result === undefined ? {} : { result }),
    ...(error === undefined ? {} : { error }),
    ...(inputRequests === undefined ? {} : { inputRequests }),
    ...(statusMessage === undefined ? {} : { statusMessage }),
  };
}

/**
 * The downstream's task id, wherever the downstream wrote it (a status message, a result, an input
 * request), reads as the hub's. Ids too short to be told from ordinary text are left alone.
 */
function scrub<T>(value: T, ref: Ref, record: TaskRecord): T {
  if (ref.task.length < 8) return value;
  if (typeof value === 'string') return value.replaceAll(ref.task, record.id) as T;
  const json = JSON.stringify(value);
  return json.includes(ref.task) ? (JSON.parse(json.replaceAll(ref.task, record.id)) as T) : value;
}

function firstText(result: Record<string, unknown>): string | undefined {
  const content = result['content'];
  if (!Array.isArray(content)) return undefined;
  const block: unknown = content.find((c: unknown) => typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'text');
  const text: unknown = (block as { text?: unknown } | undefined)?.text;
  return typeof text === 'string' ? text.slice(0, 500) : undefined;
}

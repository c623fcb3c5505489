import { randomUUID } from 'node:crypto';
import { isInputRequiredResult, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { ERROR_META_KEY, ERROR_SPECS } from '../../errors.js';
import { cutText } from '../../providers/cut-text.js';
import { taskHolderId } from '../downstream/held-calls.js';
import type { InputRequired } from '../source.js';
import { toTaskError } from './errors.js';
import { isTerminal, type TaskBacking, type TaskOwner, type TaskRecord, type TaskRepository, type TaskState } from './types.js';

/** A failure's words in a status message are bounded (on a code point boundary): a tool's error may quote a long body. */
const MAX_MESSAGE_CHARS = 2000;
/**
 * How often the records of the tasks this process runs are read back while any runs: another
 * process on the data dir (a `stdio` beside a `serve`) may have cancelled one, and its work must
 * stop here, where it runs, rather than stream on to its end.
 */
export const CANCEL_CHECK_MS = 1000;

function ownerKey(o: TaskOwner): string {
  return `${o.tenant}/${o.user}`;
}

/** What a local task's work is handed for one round. */
export interface LocalWorkContext {
  /** Aborted by tasks/cancel and when the hub stops. */
  signal: AbortSignal;
  /** The client's answers to the previous round's input requests (tasks/update), as the work keyed them. */
  inputResponses?: Readonly<Record<string, unknown>>;
  /** The `requestState` the work returned with its previous round's input requests. */
  requestState?: string;
}

/**
 * A tool's work run as a task. It follows the multi-round-trip contract of a source's `callTool`:
 * returning `inputRequired(...)` parks the task in `input_required` until tasks/update has answered
 * every request, and the work is then called again with the answers.
 */
export type LocalWork = (ctx: LocalWorkContext) => Promise<Record<string, unknown> | InputRequired>;

interface Runner {
  /** `tenant/user`, to bound how many tasks one owner runs at once. */
  owner: string;
  /** Whose task it is: its record is read back as its owner's. */
  ownedBy: TaskOwner;
  /** The tool the task runs, named when the hub's stop cuts it off. */
  tool: string;
  work: LocalWork;
  abort: AbortController;
  /** Requests of the current round not answered yet. */
  pending: Record<string, unknown>;
  answers: Record<string, unknown>;
  requestState?: string;
}

/**
 * The `local` backing: the work runs in this process and its state and result are kept in the
 * task's own record. The record outlives the process; the work does not, so a hub that stops
 * marks the tasks it was running as failed (`close`).
 */
export class LocalBacking implements TaskBacking {
  readonly kind = 'local' as const;
  private readonly runners = new Map<string, Runner>();
  /**
   * A local task's backing id: the process that runs it. PROCESS_ID first, so another replica finds
   * this one in the replica registry (src/replicas/tasks.ts); the suffix tells two hubs in one process apart.
   */
  readonly processId = taskHolderId(randomUUID());
  /** Reads the running tasks' records back while any runs (CANCEL_CHECK_MS). */
  private checking: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: { repo: TaskRepository; clock: Clock; log: Logger; onChange?: (id: string) => void; cancelCheckMs?: number }) {}

  /** Starts `work` for a task whose record was just created. */
  start(record: TaskRecord, work: LocalWork): void {
    const runner: Runner = {
      owner: ownerKey(record.owner),
      ownedBy: { tenant: record.owner.tenant, user: record.owner.user },
      tool: record.tool,
      work,
      abort: new AbortController(),
      pending: {},
      answers: {},
    };
    this.runners.set(record.id, runner);
    this.checkWhileRunning();
    void this.round(record.id, runner);
  }

  private checkWhileRunning(): void {
    if (this.checking !== undefined) return;
    this.checking = setInterval(() => void this.stopEnded(), this.opts.cancelCheckMs ?? CANCEL_CHECK_MS);
    // A running task does not keep a stopping process alive: close() records it as cut off.
    this.checking.unref();
  }

  /**
   * Stops the work of each task whose record ended elsewhere: cancelled by another process on the
   * store (its tasks/cancel could only write the record, the work runs here), or expired (nobody
   * may read its result any more). The timer stops once nothing runs.
   */
  private async stopEnded(): Promise<void> {
    if (this.runners.size === 0) {
      clearInterval(this.checking);
      this.checking = undefined;
      return;
    }
    const now = this.opts.clock.now();
    for (const [id, runner] of [...this.runners]) {
      let record: TaskRecord | undefined;
      try {
        record = await this.opts.repo.get(id, runner.ownedBy, now);
      } catch {
        continue; // the store is busy: the next look decides
      }
      if (record !== undefined && !isTerminal(record.status)) continue;
      if (this.runners.get(id) !== runner) continue; // it finished meanwhile
      runner.abort.abort();
      this.runners.delete(id);
      this.opts.onChange?.(id);
    }
  }

  /** How many unfinished tasks this process runs for `owner`. */
  running(owner: TaskOwner): number {
    const key = ownerKey(owner);
    let n = 0;
    for (const r of this.runners.values()) if (r.owner === key) n++;
    return n;
  }

  async state(record: TaskRecord): Promise<TaskState> {
    const { status, result, error, inputRequests, statusMessage } = record;
    return {
      status,
      ...(result === undefined ? {} : { result }),
      ...(error === undefined ? {} : { error }),
      ...(inputRequests === undefined ? {} : { inputRequests }),
      ...(statusMessage === undefined ? {} : { statusMessage }),
    };
  }

  async cancel(record: TaskRecord): Promise<void> {
    // The status first: the work may notice the abort and return before this update would land.
    const moved = await this.opts.repo.update(record.id, { status: 'cancelled', statusMessage: 'Cancelled by the client' }, this.opts.clock.now());
    this.runners.get(record.id)?.abort.abort();
    this.runners.delete(record.id);
    if (moved) this.opts.onChange?.(record.id);
  }

  async supplyInput(record: TaskRecord, responses: Readonly<Record<string, unknown>>): Promise<void> {
    if (record.status !== 'input_required') return;
    const runner = this.runners.get(record.id);
    // The work that asked runs in another process on the data dir, or in one that was killed: the
    // answers cannot reach it. Taking them in silence left the task asking forever, and a 2025
    // tasks/result, which asks the client again after each delivery, flooded it with the question.
    if (!runner) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `The work of this task runs in another Switchboard process (or one that stopped without closing it), so it cannot take answers here; call ${record.tool} again`,
      );
    }
    // Keys the task did not ask for (or that were answered already) are ignored, per SEP-2663.
    for (const [key, answer] of Object.entries(responses)) {
      if (!(key in runner.pending)) continue;
      runner.answers[key] = answer;
      delete runner.pending[key];
    }
    const now = this.opts.clock.now();
    if (Object.keys(runner.pending).length > 0) {
      if (await this.opts.repo.update(record.id, { status: 'input_required', inputRequests: { ...runner.pending } }, now)) this.opts.onChange?.(record.id);
      return;
    }
    if (await this.opts.repo.update(record.id, { status: 'working' }, now)) {
      this.opts.onChange?.(record.id);
      void this.round(record.id, runner);
    }
  }

  /**
   * Hub shutdown: aborts every task this process runs and records it as failed, so a later process
   * on the data dir answers tasks/get with an outcome instead of a task that never moves again.
   */
  async close(): Promise<void> {
    clearInterval(this.checking);
    this.checking = undefined;
    const running = [...this.runners.entries()];
    this.runners.clear();
    for (const [id, runner] of running) {
      runner.abort.abort();
      await this.opts.repo.update(id, stopped(runner.tool), this.opts.clock.now()).catch(() => false);
    }
  }

  private async round(id: string, runner: Runner): Promise<void> {
    const answers = runner.answers;
    runner.answers = {};
    const ctx: LocalWorkContext = { signal: runner.abort.signal };
    if (Object.keys(answers).length > 0) ctx.inputResponses = answers;
    if (runner.requestState !== undefined) ctx.requestState = runner.requestState;
    let next: TaskState;
    try {
      const out = await runner.work(ctx);
      if (isInputRequiredResult(out)) {
        runner.pending = { ...out.inputRequests };
        if (out.requestState === undefined) delete runner.requestState;
        else runner.requestState = out.requestState;
        next = { status: 'input_required', inputRequests: { ...runner.pending } };
      } else {
        next = finished(out);
      }
    } catch (err) {
      next = { status: 'failed', error: toTaskError(err) };
      this.opts.log.debug({ task: id, err: next.error?.message }, 'local task failed');
    }
    if (runner.abort.signal.aborted) return; // cancelled, or the hub stopped: the record says so already
    try {
      if (await this.opts.repo.update(id, next, this.opts.clock.now())) this.opts.onChange?.(id);
    } catch (err) {
      this.opts.log.error({ task: id, err: err instanceof Error ? err.message : String(err) }, 'could not store a task state');
    }
    if (next.status !== 'input_required') this.runners.delete(id);
  }
}

/**
 * A task the hub's stop cut off, as a failed call reads (README, "Long calls as MCP Tasks"): the
 * isError result naming the tool, its words the status message too, so 2025-11-25 shows it
 * `failed` with the reason and tasks/result returns that result, and 2026-07-28 shows it completed
 * with the result inlined. Not a JSON-RPC error: the request was fine, its work was cut off. Coded
 * `source_crashed` (retryable), as a call whose process stopped under it is (replicas/forward.ts):
 * calling again is the remedy.
 */
function stopped(tool: string): TaskState {
  const text = `The hub stopped while the task ran: ${tool} did not finish. Call it again.`;
  const code = 'source_crashed';
  return {
    status: 'failed',
    statusMessage: text,
    result: { content: [{ type: 'text', text }], isError: true, _meta: { [ERROR_META_KEY]: { code, retryable: ERROR_SPECS[code].retryable } } },
  };
}

/**
 * A round's final answer as the task's state. A tool's own isError answer stays its result with
 * the status `failed`: 2025-11-25 counts isError as failed and its tasks/result returns that
 * result, while the 2026-07-28 wire shows it as `completed` with it inlined (wire.ts), as a queued
 * write's failure is (outbox-job.ts).
 */
function finished(out: Record<string, unknown>): TaskState {
  if (out['isError'] !== true) return { status: 'completed', result: out };
  const first: unknown = Array.isArray(out['content']) ? out['content'][0] : undefined;
  const text = typeof first === 'object' && first !== null && 'text' in first && typeof first.text === 'string' ? first.text : undefined;
  return { status: 'failed', result: out, ...(text ? { statusMessage: cutText(text, MAX_MESSAGE_CHARS) } : {}) };
}

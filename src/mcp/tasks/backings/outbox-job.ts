import { ProtocolError, ProtocolErrorCode, type CallToolResult } from '@modelcontextprotocol/server';
import { describeError } from '../../../errors.js';
import { cutText } from '../../../providers/cut-text.js';
import type { CancelResult, Job, OpenJob } from '../../../outbox/types.js';
import type { TaskBacking, TaskOwner, TaskRecord, TaskState } from '../types.js';

/** What the outbox hands the registry: its owner-only reads, its cancel, its job events, and the rendering of an answer. */
export interface OutboxJobPort {
  get(id: string, owner: TaskOwner): Promise<OpenJob | undefined>;
  /** queued → cancelled for its owner only, and only before it is sent. */
  cancel(id: string, owner: TaskOwner): Promise<CancelResult>;
  /** Called when the job reaches a final state (the outbox's JobEvents). */
  on(id: string, listener: (job: Job) => void): () => void;
  /** A final job as the tool result the direct call would have given (answerOf); rejects where that call threw. */
  render(job: OpenJob): Promise<CallToolResult>;
  /** Why a queued job is held back, when its integration's open circuit holds it (circuitHold's message); else undefined. */
  heldBy?(job: OpenJob): Promise<string | undefined>;
}

/** A failure's words are bounded: a provider's refusal may quote a long body. */
const MAX_MESSAGE_CHARS = 2000;

/**
 * The `outbox_job` backing: a queued write run as an MCP Task reads its state from the job (one
 * record, not a copy): `working` while it waits, is paced or retried, `completed` with the
 * provider's answer rendered as the direct call renders it. A cancel stops it only before it is
 * sent; after, it is a no-op and the task goes on to the job's own outcome.
 */
export class OutboxJobBacking implements TaskBacking {
  readonly kind = 'outbox_job' as const;

  constructor(private readonly port: OutboxJobPort) {}

  async state(record: TaskRecord): Promise<TaskState> {
    const job = await this.port.get(record.backing.id, record.owner);
    // Done and cancelled jobs are purged after the outbox's retention; a task whose final state was
    // recorded reads as that (TaskService keeps it), one never read before reads as this.
    if (job === undefined) return { status: 'failed', error: { code: ProtocolErrorCode.InternalError, message: 'The queued write is no longer kept' } };
    // The job's own time: a change read later (another process sent it) is dated so.
    return { ...(await this.stateOf(job)), changedAt: job.updatedAt };
  }

  private async stateOf(job: OpenJob): Promise<TaskState> {
    switch (job.state) {
      case 'queued': {
        // An open circuit gives the job back unsent until it retries: said, with when, as the
        // handle of a direct call and queue__job_status say it, where "queued" alone read as a
        // slow queue for the whole outage.
        const held = await this.port.heldBy?.(job);
        return { status: 'working', statusMessage: held === undefined ? queuedMessage(job) : `${queuedMessage(job)}; ${held}` };
      }
      case 'sending':
        // `sending` is committed once the pacing token is granted: the request has left.
        return { status: 'working', statusMessage: `sent to the provider, waiting for its answer (job ${job.id})` };
      case 'cancelled':
        return { status: 'cancelled', statusMessage: `cancelled before it was sent (job ${job.id})` };
      case 'done': {
        const answered = await this.answer(job);
        if ('result' in answered) return { status: 'completed', statusMessage: `done (job ${job.id})`, result: { ...answered.result } };
        return failed(job, answered.message);
      }
      case 'failed':
      case 'dead':
      case 'sent_unconfirmed': {
        const answered = await this.answer(job);
        if (!('result' in answered)) return failed(job, answered.message);
        // The call's own answer (an isError result), as tasks/result must return what the call
        // returns; the status is failed for 2025-11-25 clients (isError counts as failed there).
        const why = textOf(answered.result) ?? job.state;
        return { status: 'failed', statusMessage: `${cutText(why, MAX_MESSAGE_CHARS)} (job ${job.id})`, result: { ...answered.result } };
      }
    }
  }

  async cancel(record: TaskRecord): Promise<'too_late' | undefined> {
    // 'busy': its request already left (or it finished); the task goes on to the job's own outcome.
    const r = await this.port.cancel(record.backing.id, record.owner);
    return r.outcome === 'busy' ? 'too_late' : undefined;
  }

  async supplyInput(): Promise<void> {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'A queued write never asks for input: tasks/update does not apply to it');
  }

  follow(record: TaskRecord, changed: () => void): () => void {
    // The outbox tells final states only, once: the listener goes with it.
    const off = this.port.on(record.backing.id, () => {
      off();
      changed();
    });
    return off;
  }

  private async answer(job: OpenJob): Promise<{ result: CallToolResult } | { message: string }> {
    try {
      return { result: await this.port.render(job) };
    } catch (err) {
      return { message: describeError(err) };
    }
  }
}

function queuedMessage(job: OpenJob): string {
  if (job.attempts === 0) return `queued (job ${job.id})`;
  const spent = job.attempts - job.paced;
  const parts: string[] = [];
  if (spent > 0) parts.push(`${spent} attempt${spent === 1 ? '' : 's'}`);
  if (job.paced > 0) parts.push(`${job.paced} rate-limit answer${job.paced === 1 ? '' : 's'}`);
  return `waiting to be sent again after ${parts.join(' and ')} (job ${job.id})${job.lastError ? `: ${job.lastError}` : ''}`;
}

function failed(job: OpenJob, why: string): TaskState {
  const message = `${cutText(why, MAX_MESSAGE_CHARS)} (job ${job.id})`;
  const data = { jobId: job.id, state: job.state, ...(job.result ? { providerStatus: job.result.status } : {}) };
  return { status: 'failed', statusMessage: message, error: { code: ProtocolErrorCode.InternalError, message, data } };
}

function textOf(r: CallToolResult): string | undefined {
  const first = r.content[0];
  return first?.type === 'text' ? first.text : undefined;
}

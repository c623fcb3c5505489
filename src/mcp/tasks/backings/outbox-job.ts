import { ProtocolError, ProtocolErrorCode, type CallToolResult } from '@modelcontextprotocol/server';
import { describeError } from '../../../errors.js';
import type { CancelResult, Job, OpenJob } from '../../../outbox/types.js';
import type { TaskBacking, TaskOwner, TaskRecord, TaskState } from '../types.js';

/** What the outbox hands the registry: its owner-only reads, its cancel, its job events, and the rendering of an answer. */
export interface OutboxJobPort {
  get(id: string, owner: TaskOwner): Promise<OpenJob | undefined>;
  /** queued → cancelled for its owner only, and only before it is sent. */
  cancel(id: string, owner: TaskOwner): Promise<CancelResult>;
  /** Called when the job reaches a final state (the outbox's JobEvents). */
  on(id: string, listener: (job: Job) => void): () => void;
  /** A final job as the tool result the direct call would have given (answerOf); throws where that call threw. */
  render(job: OpenJob): CallToolResult;
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
    // Done and cancelled jobs are purged after the outbox's retention; a task kept longer reads as this.
    if (job === undefined) return { status: 'failed', error: { code: ProtocolErrorCode.InternalError, message: 'The queued write is no longer kept' } };
    switch (job.state) {
      case 'queued':
        return { status: 'working', statusMessage: queuedMessage(job) };
      case 'sending':
        // Also while it waits for a token of the integration's rate limit: pacing happens in the send.
        return { status: 'working', statusMessage: `on its way to the provider, paced by its rate limit (job ${job.id})` };
      case 'cancelled':
        return { status: 'cancelled', statusMessage: `cancelled before it was sent (job ${job.id})` };
      case 'done': {
        const answered = this.answer(job);
        if ('result' in answered) return { status: 'completed', result: { ...answered.result } };
        return failed(job, answered.message);
      }
      case 'failed':
      case 'dead':
      case 'sent_unconfirmed': {
        const answered = this.answer(job);
        return failed(job, 'result' in answered ? (textOf(answered.result) ?? `job ${job.id} ${job.state}`) : answered.message);
      }
    }
  }

  async cancel(record: TaskRecord): Promise<void> {
    // 'busy' (being sent, or sent) leaves the task to the job's own outcome.
    await this.port.cancel(record.backing.id, record.owner);
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

  private answer(job: OpenJob): { result: CallToolResult } | { message: string } {
    try {
      return { result: this.port.render(job) };
    } catch (err) {
      return { message: describeError(err) };
    }
  }
}

function queuedMessage(job: OpenJob): string {
  if (job.attempts === 0) return `queued (job ${job.id})`;
  return `waiting to be sent again after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'} (job ${job.id})${job.lastError ? `: ${job.lastError}` : ''}`;
}

function failed(job: OpenJob, why: string): TaskState {
  const message = why.slice(0, MAX_MESSAGE_CHARS);
  const data = { jobId: job.id, state: job.state, ...(job.result ? { providerStatus: job.result.status } : {}) };
  return { status: 'failed', statusMessage: message, error: { code: ProtocolErrorCode.InternalError, message, data } };
}

function textOf(r: CallToolResult): string | undefined {
  const first = r.content[0];
  return first?.type === 'text' ? first.text : undefined;
}

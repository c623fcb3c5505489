import { ProtocolError, ProtocolErrorCode, type CallToolResult } from '@modelcontextprotocol/server';
import { isFinalTask, type AgentTask } from '../../../agents/tasks/types.js';
import type { TaskBacking, TaskOwner, TaskRecord, TaskState } from '../types.js';
import { cutText } from '../../../providers/cut-text.js';

/** What the agents hand the registry: their task store's reads, cancel and events, and the rendering of an outcome. */
export interface AgentTaskPort {
  /** The owner's task; an unanswered one past its expiry is timed_out first (as agent__task_status reads it). */
  read(id: string, owner: TaskOwner): Promise<AgentTask | undefined>;
  cancel(id: string): Promise<boolean>;
  on(id: string, listener: () => void): () => void;
  /** A final task as the tool result the direct call would have given (redacted). */
  render(task: AgentTask): CallToolResult;
}

/** A failure's words in a status message are bounded: an agent's error may be long. */
const MAX_MESSAGE_CHARS = 2000;

/**
 * The `agent_task` backing: an async agent call run as an MCP Task reads its state from the agent
 * task row (one record, not a copy), so a restarted hub, or another process on the data dir,
 * answers tasks/get, and agent__task_status reads the same row.
 */
export class AgentTaskBacking implements TaskBacking {
  readonly kind = 'agent_task' as const;

  constructor(private readonly port: AgentTaskPort) {}

  async state(record: TaskRecord): Promise<TaskState> {
    const t = await this.port.read(record.backing.id, record.owner);
    if (t === undefined) return { status: 'failed', error: { code: ProtocolErrorCode.InternalError, message: 'The agent task is no longer kept' } };
    // The row's own time: a change read later (the callback landed in another process) is dated so.
    return { ...this.stateOf(t), changedAt: t.updatedAt };
  }

  private stateOf(t: AgentTask): TaskState {
    const who = t.answeredBy ?? t.agent;
    switch (t.state) {
      case 'submitted':
        return { status: 'working', statusMessage: `submitting to agent ${t.agent} (agent task ${t.id})` };
      case 'running':
        return { status: 'working', statusMessage: `agent ${who} is working on it (agent task ${t.id})` };
      case 'completed':
        return { status: 'completed', result: { ...this.port.render(t) } };
      case 'cancelled':
        return { status: 'cancelled', statusMessage: `cancelled (agent task ${t.id}); a late answer is dropped` };
      case 'failed':
      case 'timed_out': {
        // The direct call's isError result, the reason in its words (secrets already redacted):
        // tasks/result returns it as the call would have, and 2025-11-25 shows the task failed.
        // Not a JSON-RPC error: the agent's failure is the tool's answer, not a protocol fault
        // (SEP-2663 then shows it completed with the result inlined, as a queued write's failure).
        const result = this.port.render(t);
        const first = result.content[0];
        const message = first?.type === 'text' ? first.text : `agent task ${t.id} ${t.state}`;
        return { status: 'failed', statusMessage: cutText(message, MAX_MESSAGE_CHARS), result: { ...result } };
      }
    }
  }

  async cancel(record: TaskRecord): Promise<void> {
    await this.port.cancel(record.backing.id);
  }

  async supplyInput(): Promise<void> {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'An agent task never asks for input: tasks/update does not apply to it');
  }

  follow(record: TaskRecord, changed: () => void): () => void {
    const off = this.port.on(record.backing.id, () => {
      changed();
      // Followed until final: nothing changes a finished agent task again.
      void this.port.read(record.backing.id, record.owner).then(
        (t) => (t === undefined || isFinalTask(t.state) ? off() : undefined),
        () => off(),
      );
    });
    return off;
  }
}

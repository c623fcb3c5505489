import type { ProgressUpdate } from '../mcp/source.js';
import type { AgentPartial } from './adapter.js';
import { redact } from './result.js';

export interface ProgressReporter {
  push: (agent: string, p: AgentPartial) => void;
  /** Resolves once everything pushed so far has been sent (the result goes after it). */
  flushed: () => Promise<void>;
}

/**
 * An agent's partial output as MCP progress notifications: in order, one at a time, all before
 * the result. Text that arrives while a notification is being sent joins the next one, so a
 * stream that delivers many tokens at once costs a few notifications, not one per token (each is
 * a JSON-RPC message the server validates, stores for resumption and writes); each message is
 * still what arrived since the previous one. A thought or a tool call is never merged.
 */
export function progressReporter(report: (p: ProgressUpdate) => Promise<void>, secrets: readonly string[]): ProgressReporter {
  const queue: Array<{ agent: string; p: AgentPartial }> = [];
  let n = 0;
  let pumping: Promise<void> | undefined;
  // A thought is marked as one, so a client can tell the agent's reasoning from its answer.
  const messageOf = (agent: string, p: AgentPartial): string =>
    p.kind === 'tool_call'
      ? `agent ${agent} is calling the tool ${p.tool}`
      : p.kind === 'thought'
        ? `agent ${agent} thinks: ${redact(p.text, secrets)}`
        : redact(p.text, secrets);
  const pump = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      await report({ progress: ++n, message: messageOf(next.agent, next.p) }).catch(() => {});
    }
    pumping = undefined;
  };
  return {
    push: (agent, p) => {
      const last = queue.at(-1);
      if (p.kind === 'text' && last?.p.kind === 'text' && last.agent === agent) last.p = { kind: 'text', text: last.p.text + p.text };
      else queue.push({ agent, p });
      pumping ??= pump();
    },
    flushed: async () => {
      while (pumping) await pumping;
    },
  };
}

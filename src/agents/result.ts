import type { CallToolResult } from '@modelcontextprotocol/server';
import { ERROR_META_KEY, ERROR_SPECS } from '../errors.js';
import { toolError } from '../mcp/source.js';
import type { Invocation } from './invoke.js';
import { codeOf, type AgentCallError } from './policy.js';

/** The `_meta` key of every agent result: who answered, which agents failed first and why. */
export const META_AGENT = 'switchboard/agent';

const failureMeta = (f: AgentCallError) => ({ agent: f.agent, reason: f.reason, code: codeOf(f), ...(f.detail ? { detail: f.detail } : {}) });

/** An invocation that ended with an output (a queued task is the task store's to wait for: tasks/call.ts). */
export type Answered = Omit<Invocation, 'answer'> & { answer: Extract<Invocation['answer'], { kind: 'output' }> };

/** A result from an agent's output: the text for every client, structuredContent when the tool declares an output schema. */
export function successResult(called: string, inv: Answered, structured: boolean): CallToolResult {
  const { answer, answeredBy } = inv;
  const meta = {
    [META_AGENT]: {
      agent: called,
      answeredBy,
      ...(answer.taskId ? { taskId: answer.taskId } : {}),
      ...(inv.failures.length > 0 ? { fallbackFrom: inv.failures.map(failureMeta) } : {}),
      ...(answer.usage ? { usage: answer.usage } : {}),
    },
  };
  const output = answer.output;
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  // A second block, so the first stays the output as the agent gave it (JSON a client may parse).
  const note = `Answered by fallback agent ${answeredBy} because ${inv.failures.map((f) => f.message).join('; ')}`;
  return {
    content: [{ type: 'text', text }, ...(answeredBy === called ? [] : [{ type: 'text' as const, text: note }])],
    ...(structured ? { structuredContent: output as Record<string, unknown> } : {}),
    _meta: meta,
  };
}

/**
 * Every agent of the chain failed: one isError result naming each and why (timeout, open circuit,
 * agent-level error…). Its `_meta["switchboard/error"]` is the code of the last agent tried, the
 * one that ended the call (README, HTTP routes), with that code's retryability from the error
 * table. A fallback refused for the arguments was not tried: its invalid_arguments would blame the
 * caller for arguments the called tool took, so it gives the code only when no agent was tried.
 */
export function failureResult(called: string, failures: readonly AgentCallError[]): CallToolResult {
  const [first, ...rest] = failures;
  const lines = [first ? first.message : `agent ${called} gave no answer`];
  for (const f of rest) lines.push(`fallback ${f.message}`);
  const last = failures.findLast((f) => f.reason !== 'invalid_input') ?? failures.at(-1);
  const code = last ? codeOf(last) : 'downstream_error';
  return toolError(lines.join('\n'), {
    _meta: { [META_AGENT]: { agent: called, failures: failures.map(failureMeta) }, [ERROR_META_KEY]: { code, retryable: ERROR_SPECS[code].retryable } },
  });
}

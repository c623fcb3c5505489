import type { Identity } from '../identity/identity.js';
import type { InputValidator } from '../mcp/validate-input.js';
import type { AgentConfig } from '../definition/agents.js';
import { fallbacksOf } from '../definition/agents.js';
import type { AgentAdapter, AgentAnswer, AgentCallback, AgentPartial } from './adapter.js';
import { AgentCallError, runWithPolicy, type PolicyDeps } from './policy.js';
import { sessionIdentity } from './session.js';
import type { CircuitBreakers } from '../outbox/breaker.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import { acceptAnswer, type OutputCheck } from './validate-output.js';

/** One configured agent, ready to call. */
export interface AgentRuntime {
  name: string;
  config: AgentConfig;
  adapter: AgentAdapter;
  validateInput: InputValidator;
  checkOutput: OutputCheck;
}

export interface InvokeContext {
  identity: Identity;
  signal: AbortSignal;
  callId?: string;
  onPartial?: (agent: string, p: AgentPartial) => void;
  /** Each agent of the chain as it is tried (progress says where a fallback's answer begins). */
  onTry?: (agent: string) => void;
  /** Async: the callback each agent of the chain is submitted with (undefined for one that is not async). */
  callback?: CallbackFor;
}

export interface InvokeDeps extends PolicyDeps<CircuitBreakers | Breakers> {
  agents: ReadonlyMap<string, AgentRuntime>;
  /** The hub key session identities are derived from. */
  sessionKey: () => Buffer;
}

/**
 * The callback an agent of the chain is submitted with, asked right before it is tried: the task
 * notes which agent it is, so a callback is verified under that agent's secret alone.
 */
export type CallbackFor = (agent: string) => Promise<AgentCallback | undefined>;

/** An answer that ends the call: an output that passed its checks, or (async, later) a task handle. */
export interface Invocation {
  answeredBy: string;
  answer: Extract<AgentAnswer, { kind: 'output' | 'submitted' }>;
  /** The agents tried before, and why each gave no answer. */
  failures: AgentCallError[];
}

/** Every agent of a failed chain, with its reason. */
export class ChainFailed extends Error {
  constructor(readonly failures: AgentCallError[]) {
    super(failures.map((f) => f.message).join('; '));
    this.name = 'ChainFailed';
  }
}

/**
 * The agent, then its fallbacks depth first (each fallback's own fallbacks after it), each once;
 * disabled ones are skipped. Config refuses cycles; the `seen` set keeps this finite regardless.
 */
export function chainOf(name: string, agents: ReadonlyMap<string, AgentRuntime>): string[] {
  const out: string[] = [];
  const walk = (n: string) => {
    const a = agents.get(n);
    if (a === undefined || out.includes(n)) return;
    out.push(n);
    for (const f of fallbacksOf(a.config)) walk(f);
  };
  walk(name);
  return out;
}

/**
 * Calls `name` and, when it gives no usable answer (failure, open circuit, agent-level error,
 * invalid output), each fallback in turn. A fallback is sent the arguments the called tool took:
 * one that declares an `inputSchema` is checked against it first, one that declares none takes
 * them as they are (its implicit `{ input }` schema describes it only as a tool of its own, and
 * seed 000's orchestrator hands a fallback the same payload). A fallback's output must pass its
 * own checks and the called tool's output schema, since it is returned as that tool's result
 * (validate-output.ts `acceptAnswer`). The caller's cancel ends the chain at once and is thrown as is.
 */
export async function invokeChain(name: string, input: Record<string, unknown>, ctx: InvokeContext, d: InvokeDeps): Promise<Invocation> {
  const called = d.agents.get(name)!;
  const failures: AgentCallError[] = [];
  for (const candidate of chainOf(name, d.agents)) {
    const a = d.agents.get(candidate)!;
    if (candidate !== name && a.config.inputSchema !== undefined) {
      try {
        a.validateInput(input);
      } catch (err) {
        failures.push(new AgentCallError(candidate, 'invalid_input', `agent ${candidate} does not take these arguments: ${(err as Error).message}`));
        continue;
      }
    }
    let answer: AgentAnswer;
    const callback = await ctx.callback?.(candidate);
    ctx.onTry?.(candidate);
    try {
      answer = await runWithPolicy(
        candidate,
        a.config.retries,
        a.adapter,
        {
          input,
          sessionId: sessionIdentity(d.sessionKey(), ctx.identity, candidate),
          ...(ctx.callId ? { callId: ctx.callId } : {}),
          signal: ctx.signal,
          ...(ctx.onPartial ? { onPartial: (p: AgentPartial) => ctx.onPartial!(candidate, p) } : {}),
          ...(callback ? { callback } : {}),
        },
        d,
      );
    } catch (err) {
      if (err instanceof AgentCallError) {
        failures.push(err);
        continue;
      }
      throw err;
    }
    if (answer.kind === 'agent_error') {
      failures.push(new AgentCallError(candidate, 'agent_error', `agent ${candidate} reported ${answer.type}: ${answer.message}`, answer.type));
      continue;
    }
    if (answer.kind === 'submitted' && callback === undefined) {
      // Queued although it was not sent a callback (a sync-mode entry): no answer will come to
      // this hub, so it counts as none and the fallbacks get their turn.
      failures.push(
        new AgentCallError(
          candidate,
          'protocol',
          `agent ${candidate} queued the task ${answer.taskId} (${answer.state}) instead of answering, and the hub gave it no callback: configure it as async (${asyncHint(a.config)}) to wait for its answer`,
        ),
      );
      continue;
    }
    if (answer.kind === 'output') {
      const accepted = acceptAnswer(a, called, answer.output);
      if ('refused' in accepted) {
        failures.push(new AgentCallError(candidate, 'invalid_output', `agent ${candidate}: ${accepted.refused}`));
        continue;
      }
      answer = { ...answer, output: accepted.output };
    }
    return { answeredBy: candidate, answer, failures };
  }
  throw new ChainFailed(failures);
}

/** The config change that makes an agent's queued answers come back to the hub. */
function asyncHint(c: AgentConfig): string {
  if (c.protocol === 'upagents') return 'mode "async" with a webhookSecret';
  if (c.protocol === 'kore') return 'async: true';
  return 'an http agent cannot be: use the upagents or kore protocol';
}

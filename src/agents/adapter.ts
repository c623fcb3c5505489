import { nestsTooDeep } from '../mcp/json-depth.js';

/**
 * What every protocol adapter (upagents.ts, kore.ts, http.ts) gives the policy: one attempt
 * at one task. Retries, the breaker, fallbacks and validation wrap it (policy.ts, invoke.ts), so
 * an adapter never retries and never validates.
 */

/** One attempt's request. */
export interface AgentRequest {
  /** The tool's arguments, already checked against the agent's input schema. */
  input: Record<string, unknown>;
  /** The caller's opaque per-agent identity (session.ts): multi-turn agents keep context by it. */
  sessionId: string;
  /** The hub's id of this tool call, the same for every attempt and fallback (an agent may dedupe or trace by it). */
  callId?: string;
  signal: AbortSignal;
  /** Partial output as it arrives (stream mode); absent when nobody listens. */
  onPartial?: (p: AgentPartial) => void;
  /** Async: where the platform sends its signed answer (the hub's `/agents/callback/:taskId`). */
  callback?: AgentCallback;
}

/** The callback an async task is submitted with: the hub's URL for it and the secret that signs it. */
export interface AgentCallback {
  url: string;
  secret: string;
}

export type AgentPartial = { kind: 'text'; text: string } | { kind: 'tool_call'; tool: string } | { kind: 'thought'; text: string };

/** Token usage and cost when the agent reports them. */
export interface AgentUsage {
  inputTokens?: number;
  outputTokens?: number;
  costCents?: number;
}

/**
 * What one attempt came to when the agent answered at all. `submitted` is for async protocols
 * (a later part): the task goes on and its result arrives through a callback.
 */
export type AgentAnswer =
  | { kind: 'output'; output: unknown; taskId?: string; usage?: AgentUsage }
  | { kind: 'agent_error'; type: string; message: string; taskId?: string }
  | { kind: 'submitted'; taskId: string; state: string };

/**
 * An attempt that got no usable answer, classified for the policy: whether another attempt may
 * help and whether it counts against the agent's circuit breaker.
 */
export type AttemptFailureKind = 'transport' | 'timeout' | 'status' | 'protocol';

export class AgentAttemptError extends Error {
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    /**
     * `sent`: the request may have reached the agent (the connection broke after it went out, or
     * the answer was cut): not safe to send again, since the agent may be running the task.
     */
    readonly extra: { status?: number; retryAfterMs?: number; cause?: unknown; sent?: boolean } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'AgentAttemptError';
  }

  get status(): number | undefined {
    return this.extra.status;
  }
}

export interface AgentAdapter {
  readonly protocol: string;
  /** One attempt; answers or throws AgentAttemptError (a caller's cancel throws the signal's reason). */
  call(req: AgentRequest): Promise<AgentAnswer>;
}

/**
 * Streamed text as the object it spells, for an agent whose tool declares an output schema (its
 * structuredContent must be an object); the text itself when it is not one, which then fails the
 * schema with a clear reason.
 */
export function objectIn(text: string): unknown {
  if (nestsTooDeep(text)) return text;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : text;
  } catch {
    return text;
  }
}

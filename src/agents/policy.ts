import { AbortError } from 'p-retry';
import type { Clock } from '../clock.js';
import { isHubError, type HubErrorCode } from '../errors.js';
import type { AttemptOutcome, CircuitBreakers } from '../outbox/breaker.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import type { Sleep } from '../providers/deadline.js';
import { firstThenRetries } from '../providers/retry.js';
import { AgentAttemptError, type AgentAdapter, type AgentAnswer, type AgentRequest } from './adapter.js';

/** Why one agent gave no usable answer: the fallback chain and the final isError result say it. */
export const FAILURE_REASONS = [
  'circuit_open',
  'timeout',
  'transport',
  'status',
  'protocol',
  'agent_error',
  'invalid_output',
  'invalid_input',
  'config',
] as const;
export type AgentFailureReason = (typeof FAILURE_REASONS)[number];

/** The error table's code for each reason (stable codes in results' `_meta`, src/errors.ts). */
export const REASON_CODES: Readonly<Record<AgentFailureReason, HubErrorCode>> = {
  circuit_open: 'circuit_open',
  timeout: 'provider_timeout',
  transport: 'provider_unreachable',
  status: 'downstream_error',
  protocol: 'downstream_error',
  agent_error: 'downstream_error',
  invalid_output: 'downstream_error',
  invalid_input: 'invalid_arguments',
  // A request the hub could not make from its config (http-attempt.ts): only a config change mends it.
  config: 'config_invalid',
};

export class AgentCallError extends Error {
  constructor(
    readonly agent: string,
    readonly reason: AgentFailureReason,
    message: string,
    /** The agent's own error type (`tool_unavailable`, `context_overflow`, `timeout`) or the failed check. */
    readonly detail?: string,
    /** The agent's HTTP status, for a `status` failure: it picks the code (codeOf). */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AgentCallError';
  }
}

/**
 * The error table's code for a failure. A status says more than its reason: a 5xx or 429 that
 * outlasted the retries (or asked for a longer wait than the hub's) is the agent unavailable for
 * now, worth a try later; a 401 or 403 is the hub's credentials refused, which only a config change
 * mends; any other 4xx is the request refused.
 */
export function codeOf(f: AgentCallError): HubErrorCode {
  const s = f.status;
  if (f.reason === 'status' && s !== undefined) {
    if (s === 401 || s === 403) return 'provider_unauthorized';
    if (s >= 500 || s === 429) return 'source_unavailable';
  }
  return REASON_CODES[f.reason];
}

/** An attempt's failure as the call's; a refusal of the credentials says so, and where they are set. */
function callError(name: string, e: AgentAttemptError, message = e.message): AgentCallError {
  const refused = e.kind === 'status' && (e.status === 401 || e.status === 403);
  const said = refused ? `${message}; agent ${name} refused the hub's credentials: check the key configured for agents.${name}` : message;
  return new AgentCallError(name, e.kind, said, undefined, e.status);
}

/** `B`: this process's circuits by default; the agents' source hands in Redis's when replicas share them. */
export interface PolicyDeps<B extends CircuitBreakers | Breakers = CircuitBreakers> {
  /** One circuit per agent, keyed by its name (threshold 5 and 60 s cool-down unless configured): this process's, or shared on Redis. */
  breakers: B;
  clock: Clock;
  sleep: Sleep;
  /** Pause before retry n (1-based) when the agent named none. */
  backoffMs: (attempt: number) => number;
  /** A longer Retry-After is not waited out: the 429/503 is the answer (and the fallback's turn). */
  maxRetryAfterMs: number;
}

/**
 * Seed 000, "Transport-Level Errors": transport errors, 5xx and 429 are tried again. A timeout is
 * not: the task may still be running and is not safe to start twice; nor is a transport error
 * after the request went out (a reset, a stream cut before its end) for the same reason, a 4xx
 * (the request is wrong) or an answer that is not the protocol's.
 */
function retryable(e: AgentAttemptError): boolean {
  if (e.kind === 'transport') return e.extra.sent !== true;
  return e.kind === 'status' && (e.status! >= 500 || e.status === 429);
}

/** What the breaker is told: the outbox's rule (5xx, timeouts, network count; a 4xx or 429 does not). */
function outcomeOf(e: AgentAttemptError): AttemptOutcome {
  if (e.kind === 'timeout') return { kind: 'timeout' };
  if (e.kind === 'transport') return { kind: 'network' };
  // An answer that is not the protocol's is the agent's fault, like a 5xx.
  return { kind: 'status', status: e.kind === 'status' ? e.status! : 502 };
}

/**
 * Tells the breaker an attempt's outcome. A shared breaker that cannot be reached loses this one
 * verdict, not the answer: the agent did answer, and the next check names the Redis failure.
 */
async function tell(d: PolicyDeps<CircuitBreakers | Breakers>, name: string, outcome: AttemptOutcome): Promise<void> {
  try {
    await d.breakers.record(name, outcome);
  } catch {
    // see above: the caller's answer (or the agent's own error) stands
  }
}

/**
 * One agent's attempts: the breaker before each, the adapter, retries with p-retry on the
 * injected sleep (Retry-After first, else the backoff). Answers the agent's answer, or throws
 * AgentCallError; a caller's cancel throws the signal's reason.
 */
export async function runWithPolicy(
  name: string,
  retries: number,
  adapter: AgentAdapter,
  req: AgentRequest,
  d: PolicyDeps<CircuitBreakers | Breakers>,
): Promise<AgentAnswer> {
  const attempt = async (): Promise<AgentAnswer> => {
    // Whether this attempt is the half-open circuit's probe, as the breaker let it through (not
    // read back afterwards: shared on Redis, that was a round trip per circuit on every attempt).
    let probe: boolean;
    try {
      // Awaited only when shared: this process's circuits answer in this tick, as they always did.
      const checked = d.breakers.check(name);
      probe = checked instanceof Promise ? await checked : checked;
    } catch (err) {
      const message = isHubError(err) ? err.message : String(err);
      throw new AbortError(new AgentCallError(name, 'circuit_open', `agent ${name}: ${message}`));
    }
    try {
      const answer = await adapter.call(req);
      await tell(d, name, { kind: 'status', status: 200 });
      return answer;
    } catch (err) {
      // The adapter's own verdict: a request the hub could not make, never sent. Not the agent's
      // failure, so the breaker hears nothing (but a probe, as below), and not worth another try.
      if (err instanceof AgentCallError) {
        if (probe) await tell(d, name, { kind: 'timeout' });
        throw new AbortError(err);
      }
      if (err instanceof AgentAttemptError) {
        await tell(d, name, outcomeOf(err));
        if (retryable(err) && !req.signal.aborted) throw err;
        throw new AbortError(callError(name, err));
      }
      // Cancelled by the caller: no verdict on the agent, but a probe must not hold the circuit
      // half-open forever, so it counts as a failed probe (open again for one cool-down).
      if (probe) await tell(d, name, { kind: 'timeout' });
      throw new AbortError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  const onFailed = async (error: unknown, attemptNumber: number, retriesLeft: number): Promise<void> => {
    if (retriesLeft === 0 || !(error instanceof AgentAttemptError)) return;
    const wait = error.extra.retryAfterMs ?? d.backoffMs(attemptNumber);
    if (wait > d.maxRetryAfterMs) throw callError(name, error, `${error.message} (asked to wait ${wait} ms, more than ${d.maxRetryAfterMs})`);
    await d.sleep(wait, req.signal);
  };
  try {
    return await firstThenRetries(attempt, { retries, signal: req.signal, onFailed });
  } catch (err) {
    if (err instanceof AgentAttemptError) throw callError(name, err);
    throw err;
  }
}

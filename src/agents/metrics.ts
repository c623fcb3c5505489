import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Clock } from '../clock.js';
import { lazyRequire } from '../lazy-require.js';
import type { HubMetrics } from '../observability/metrics.js';
import { BREAKER_GAUGE, type BreakerSnapshot } from '../outbox/breaker.js';
import type { AgentAdapter, AgentAnswer, AgentRequest, AgentUsage } from './adapter.js';
import { AgentAttemptError } from './adapter.js';
import type { Invocation } from './invoke.js';
import { AgentCallError } from './policy.js';

const prom = lazyRequire<typeof import('prom-client')>('prom-client');

/**
 * What a caller of `agent__<name>` got: the agent's answer, a fallback's, an isError result,
 * nothing (cancelled), or the handle of an async task that outlasted the call's wait (pending).
 */
export type AgentCallStatus = 'ok' | 'fallback' | 'error' | 'cancelled' | 'pending';

/** How an async task ended, as its agent's answer is counted (tasks/types.ts's final states). */
export type TaskEnd = { state: 'completed' } | { state: 'failed'; invalidOutput?: string; agentError?: string } | { state: 'timed_out' };

/** One HTTP attempt at an agent, as the adapter ended it. */
export type AttemptLabel = 'ok' | 'agent_error' | 'submitted' | 'timeout' | 'transport' | 'status' | 'protocol' | 'config' | 'cancelled';

/** The window `agents list` reports an error rate over: recent enough to mean "now", long enough to hold a few calls. */
export const RECENT_WINDOW_MS = 5 * 60_000;
const SLOT_MS = 10_000;

/** Agent-reported error types kept as label values (seed 000's); any other is `other`, so a remote string cannot grow the series. */
const KNOWN_AGENT_ERRORS = new Set(['tool_unavailable', 'context_overflow', 'timeout', 'rate_limited', 'invalid_input']);

interface Instruments {
  calls: Counter<'agent' | 'status'>;
  callSeconds: Histogram<'agent' | 'status'>;
  requests: Counter<'agent' | 'status' | 'error_type'>;
  attemptSeconds: Histogram<'agent' | 'outcome'>;
  tokens: Histogram<'agent' | 'direction'>;
  cost: Counter<'agent'>;
  validation: Counter<'agent' | 'reason'>;
  breaker: Gauge<'agent'>;
  recentRequests: Gauge<'agent'>;
  recentErrors: Gauge<'agent'>;
}

export interface AgentMetricsOptions {
  metrics: HubMetrics;
  clock: Clock;
  /** Every configured agent, so each shows (breaker 0, no errors) before its first call. */
  names: readonly string[];
  /** This process's circuits, or (a Promise) the ones replicas share on Redis. */
  breakers: () => readonly BreakerSnapshot[] | Promise<readonly BreakerSnapshot[]>;
}

/**
 * Per-agent monitoring (seed 000, "Integration Health Dashboard"): request count by status and
 * error type, latency, token usage, cost, validation failures by reason, and the breaker. The
 * instruments are made on first use on the hub's registry, so a hub that never calls an agent
 * does not load prom-client for them before its first scrape.
 */
export class AgentMetrics {
  private made: Instruments | undefined;
  /** Per agent, requests and errors per 10 s slot of the recent window (slot index → counts). */
  private readonly recent = new Map<string, Map<number, { requests: number; errors: number }>>();

  constructor(private readonly o: AgentMetricsOptions) {
    o.metrics.beforeScrape(() => this.refresh());
  }

  private get m(): Instruments {
    this.made ??= this.create();
    return this.made;
  }

  private create(): Instruments {
    const { Counter, Gauge, Histogram } = prom();
    const registers = [this.o.metrics.registry];
    const latency = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
    return {
      calls: new Counter({
        name: 'switchboard_agent_calls_total',
        help: 'Calls of agent__<agent> by what the caller got: ok, fallback (answered by a fallback agent), error, cancelled, pending (an async task handle)',
        labelNames: ['agent', 'status'],
        registers,
      }),
      callSeconds: new Histogram({
        name: 'switchboard_agent_call_duration_seconds',
        help: 'Latency of agent__<agent> calls as the caller saw it (retries and fallbacks included)',
        labelNames: ['agent', 'status'],
        buckets: latency,
        registers,
      }),
      requests: new Counter({
        name: 'switchboard_agent_requests_total',
        help: "Each agent's answers, fallbacks included: status ok or error, with the error type (timeout, transport, status, circuit_open, invalid_output, agent:<type>…)",
        labelNames: ['agent', 'status', 'error_type'],
        registers,
      }),
      attemptSeconds: new Histogram({
        name: 'switchboard_agent_attempt_duration_seconds',
        help: 'Latency of each HTTP attempt at an agent (a retried call has several), by how it ended',
        labelNames: ['agent', 'outcome'],
        buckets: latency,
        registers,
      }),
      tokens: new Histogram({
        name: 'switchboard_agent_tokens',
        help: 'Tokens an agent reported per answer, by direction (input, output)',
        labelNames: ['agent', 'direction'],
        buckets: [10, 100, 500, 1000, 5000, 10000, 50000, 100000],
        registers,
      }),
      cost: new Counter({ name: 'switchboard_agent_cost_cents_total', help: 'Cost agents reported, in cents', labelNames: ['agent'], registers }),
      validation: new Counter({
        name: 'switchboard_agent_validation_failures_total',
        help: 'Agent outputs refused, by reason (output_schema, not_object, confidence_missing, confidence_low)',
        labelNames: ['agent', 'reason'],
        registers,
      }),
      breaker: new Gauge({
        name: 'switchboard_agent_breaker_state',
        help: 'Circuit breaker per agent: 0 closed, 1 half-open, 2 open',
        labelNames: ['agent'],
        registers,
      }),
      recentRequests: new Gauge({
        name: 'switchboard_agent_recent_requests',
        help: `Answers each agent gave in the last ${RECENT_WINDOW_MS / 60_000} minutes (switchboard agents list)`,
        labelNames: ['agent'],
        registers,
      }),
      recentErrors: new Gauge({
        name: 'switchboard_agent_recent_errors',
        help: `Of those, the ones that were errors (any status but ok)`,
        labelNames: ['agent'],
        registers,
      }),
    };
  }

  /** The adapter, with each attempt's latency, outcome and reported usage recorded. */
  meter(agent: string, adapter: AgentAdapter): AgentAdapter {
    return {
      protocol: adapter.protocol,
      call: async (req: AgentRequest): Promise<AgentAnswer> => {
        const started = performance.now();
        try {
          const answer = await adapter.call(req);
          this.m.attemptSeconds.observe({ agent, outcome: answer.kind === 'output' ? 'ok' : answer.kind }, (performance.now() - started) / 1000);
          if (answer.kind === 'output' && answer.usage) this.usage(agent, answer.usage);
          return answer;
        } catch (err) {
          // A request the hub could not make from its config (http-attempt.ts) is not a cancel.
          const outcome: AttemptLabel =
            err instanceof AgentAttemptError ? err.kind : err instanceof AgentCallError && err.reason === 'config' ? 'config' : 'cancelled';
          this.m.attemptSeconds.observe({ agent, outcome }, (performance.now() - started) / 1000);
          throw err;
        }
      },
    };
  }

  private usage(agent: string, u: AgentUsage): void {
    if (u.inputTokens !== undefined) this.m.tokens.observe({ agent, direction: 'input' }, u.inputTokens);
    if (u.outputTokens !== undefined) this.m.tokens.observe({ agent, direction: 'output' }, u.outputTokens);
    if (u.costCents !== undefined && u.costCents >= 0) this.m.cost.inc({ agent }, u.costCents);
  }

  /** A call answered, by the agent called or a fallback: each agent tried is counted. */
  answered(called: string, inv: Invocation, seconds: number): void {
    this.failures(inv.failures);
    this.request(inv.answeredBy, 'ok', '');
    this.call(called, inv.answeredBy === called ? 'ok' : 'fallback', seconds);
  }

  /** Every agent of the chain failed: an isError result. */
  failed(called: string, failures: readonly AgentCallError[], seconds: number): void {
    this.failures(failures);
    this.call(called, 'error', seconds);
  }

  cancelled(called: string, seconds: number): void {
    this.call(called, 'cancelled', seconds);
  }

  /**
   * An async call that ended after its task was taken: the agents that failed before the one that
   * took it are counted now; the one that took it is counted when its task ends (`taskEnded`),
   * whether or not the caller was still waiting.
   */
  taskCall(called: string, failures: readonly AgentCallError[], status: AgentCallStatus, seconds: number): void {
    this.failures(failures);
    this.call(called, status, seconds);
  }

  /** An async task's agent answered through its callback, or never did (timed out). */
  taskEnded(agent: string, end: TaskEnd): void {
    if (end.state === 'completed') this.request(agent, 'ok', '');
    else if (end.state === 'timed_out') this.request(agent, 'error', 'timeout');
    else if (end.invalidOutput !== undefined) {
      this.request(agent, 'error', 'invalid_output');
      this.m.validation.inc({ agent, reason: validationReason(end.invalidOutput) });
    } else this.request(agent, 'error', `agent:${KNOWN_AGENT_ERRORS.has(end.agentError ?? '') ? end.agentError : 'other'}`);
  }

  private call(agent: string, status: AgentCallStatus, seconds: number): void {
    this.m.calls.inc({ agent, status });
    this.m.callSeconds.observe({ agent, status }, seconds);
  }

  private failures(failures: readonly AgentCallError[]): void {
    for (const f of failures) {
      // A fallback that does not take the arguments was never asked: no answer of its to count.
      if (f.reason === 'invalid_input') continue;
      const type = f.reason === 'agent_error' ? `agent:${KNOWN_AGENT_ERRORS.has(f.detail ?? '') ? f.detail : 'other'}` : f.reason;
      this.request(f.agent, 'error', type);
      if (f.reason === 'invalid_output') this.m.validation.inc({ agent: f.agent, reason: validationReason(f.message) });
    }
  }

  private request(agent: string, status: 'ok' | 'error', errorType: string): void {
    this.m.requests.inc({ agent, status, error_type: errorType });
    const slots = this.recent.get(agent) ?? new Map<number, { requests: number; errors: number }>();
    this.recent.set(agent, slots);
    const slot = Math.floor(this.o.clock.now() / SLOT_MS);
    const s = slots.get(slot) ?? { requests: 0, errors: 0 };
    slots.set(slot, s);
    s.requests++;
    if (status === 'error') s.errors++;
    if (slots.size > RECENT_WINDOW_MS / SLOT_MS + 1) this.prune(slots);
  }

  private prune(slots: Map<number, unknown>): void {
    const oldest = Math.floor((this.o.clock.now() - RECENT_WINDOW_MS) / SLOT_MS);
    for (const k of slots.keys()) if (k <= oldest) slots.delete(k);
  }

  /** Requests and errors over the recent window (whole 10 s slots: up to 10 s more than the window). */
  recentOf(agent: string): { requests: number; errors: number } {
    const slots = this.recent.get(agent);
    const out = { requests: 0, errors: 0 };
    if (!slots) return out;
    this.prune(slots);
    for (const s of slots.values()) {
      out.requests += s.requests;
      out.errors += s.errors;
    }
    return out;
  }

  /** Before each scrape: the breakers (a cool-down ends by time alone) and the recent window. */
  private refresh(): void | Promise<void> {
    const now = this.o.breakers();
    // Shared circuits are read at each scrape; unreadable (Redis down), the last values stay.
    if (now instanceof Promise)
      return now.then(
        (b) => this.show(b),
        () => this.show(undefined),
      );
    this.show(now);
  }

  private show(breakers: readonly BreakerSnapshot[] | undefined): void {
    const states = new Map((breakers ?? []).map((b) => [b.integration, b.state]));
    for (const agent of this.o.names) {
      if (breakers) this.m.breaker.set({ agent }, BREAKER_GAUGE[states.get(agent) ?? 'closed']);
      const r = this.recentOf(agent);
      this.m.recentRequests.set({ agent }, r.requests);
      this.m.recentErrors.set({ agent }, r.errors);
    }
  }
}

/** The check that refused an output (src/agents/validate-output.ts words each one), as a label value. */
export function validationReason(message: string): string {
  if (message.includes('is not a JSON object')) return 'not_object';
  if (message.includes('(minConfidence)')) return 'confidence_missing';
  if (message.includes('the confidence at')) return 'confidence_low';
  return 'output_schema';
}

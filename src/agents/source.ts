import { randomUUID } from 'node:crypto';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../definition/agents.js';
import { HubError } from '../errors.js';
import { unknownTool, type CallContext, type SourceChange, type SourceStatus, type ToolSource } from '../mcp/source.js';
import type { CreateTaskResult } from '../mcp/tasks/wire.js';
import { CircuitBreakers, type BreakerOptions, type BreakerSnapshot } from '../outbox/breaker.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import type { ProviderClient } from '../providers/client.js';
import { realSleep, type Sleep } from '../providers/deadline.js';
import { defaultBackoff } from '../providers/retry.js';
import { unredacted } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import type { SecretStore } from '../store/hub-secrets.js';
import { DEFAULT_INPUT_SCHEMA, buildAgents, secretsOf } from './build.js';
import { ChainFailed, invokeChain, type AgentRuntime, type CallbackFor, type InvokeDeps } from './invoke.js';
import { AgentMetrics } from './metrics.js';
import { failureResult, successResult } from './result.js';
import { redact } from './scrub.js';
import { type ProgressReporter, progressReporter } from './progress.js';
import { AGENT_SESSION_KEY } from './session.js';
import { resultOf, unlessCallerGone } from './tasks/call.js';
import { AgentTasks, isAsync, type AgentTasksOptions } from './tasks/service.js';
import { TASK_STATUS, asyncOutputSchema } from './tasks/status-tool.js';
import { assertCallbackReaches, type CallbackReach } from './callback-reach.js';
import type { AgentTask } from './tasks/types.js';
import { closeSchema } from '../mcp/validate-input.js';

export interface AgentSourceOptions {
  agents: Record<string, AgentConfig>;
  provider: ProviderClient;
  publicUrl: () => string;
  /** Where the session-identity key is kept (created on first use). */
  secrets: SecretStore;
  clock: Clock;
  log: Logger;
  since: number;
  /** Per-agent circuits: 5 consecutive failures open one for 60 s unless told otherwise. */
  breakers?: BreakerOptions;
  /** Per-agent circuits every replica shares (on Redis): used instead of this process's `breakers`. */
  shared?: Breakers;
  /** Waits between attempts (tests pass one that does not wait). */
  sleep?: Sleep;
  backoffMs?: (attempt: number) => number;
  maxRetryAfterMs?: number;
  /** Async agents' task store, callbacks and waits; required when an agent runs async. */
  tasks?: AgentTasksOptions;
  /** The hub's metrics: per-agent instruments are added to its registry (src/agents/metrics.ts). */
  metrics?: HubMetrics;
  /** Whether async agents' callbacks can come back to this hub (callback-reach.ts). */
  reach?: CallbackReach;
}

/**
 * The configured agents as MCP tools `agent__<name>` (ARCHITECTURE.md, data flow 7): arguments
 * checked against the agent's input schema before any call, the caller's identity mapped to an
 * opaque per-agent session identity, the call run through the agent's policy and its fallbacks,
 * streamed output passed on as progress, and the answer checked before it is returned.
 */
export class AgentSource implements ToolSource {
  readonly name = 'agent';
  readonly kind = 'agent';
  readonly prefix = true;
  /** Agents report progress and nothing else back to the caller (src/mcp/direct-call.ts). */
  readonly directCalls = true;
  readonly breakers: CircuitBreakers;
  private readonly agents: Map<string, AgentRuntime>;
  private readonly listed: Tool[];
  private readonly secretValues: string[];
  private readonly deps: Omit<InvokeDeps, 'sessionKey'>;
  private key: Promise<Buffer> | undefined;
  /** Async tasks, when some agent runs async: the callback route and `agent__task_status`. */
  readonly tasks: AgentTasks | undefined;
  /** Whether some agent runs async (agent__task_status is listed). */
  private readonly async: boolean;
  /** Per-agent metrics, when the hub keeps any. */
  readonly metered: AgentMetrics | undefined;
  /** The per-answer line: its fields are names, ids, a duration and token counts, so it skips redaction. */
  private readonly answeredLog: Logger;

  constructor(private readonly o: AgentSourceOptions) {
    this.agents = buildAgents(o.agents, { provider: o.provider, clock: o.clock, publicUrl: o.publicUrl });
    this.breakers = new CircuitBreakers({ threshold: 5, coolDownMs: 60_000, clock: o.clock, ...o.breakers });
    // Shared circuits show the agents this replica serves, as Redis holds them, before it calls one:
    // its gauge and `agents list` say open when another replica opened the circuit.
    for (const name of this.agents.keys()) o.shared?.add(name);
    this.secretValues = secretsOf(o.agents);
    this.answeredLog = unredacted(o.log);
    if (o.metrics) {
      const m = new AgentMetrics({
        metrics: o.metrics,
        clock: o.clock,
        names: [...this.agents.keys()],
        breakers: () => (o.shared ? o.shared.snapshot() : this.breakers.snapshot()),
      });
      for (const a of this.agents.values()) a.adapter = m.meter(a.name, a.adapter);
      this.metered = m;
    }
    const async = [...this.agents.values()].some(isAsync);
    if (async && !o.tasks) throw new HubError('config_invalid', 'an agent runs async, but this hub was built without an agent task store');
    // Built whenever there is a task store, even with no async agent here: the callback route
    // and the inbox handler must answer for tasks another process on the data dir submitted.
    this.tasks = o.tasks
      ? new AgentTasks({
          ...o.tasks,
          agents: this.agents,
          publicUrl: o.publicUrl,
          clock: o.clock,
          log: o.log,
          metered: this.metered,
          secrets: this.secretValues,
        })
      : undefined;
    this.async = async;
    this.listed = [...[...this.agents.values()].map(toolOf), ...(async && this.tasks ? [this.tasks.tool] : [])];
    this.deps = {
      agents: this.agents,
      breakers: o.shared ?? this.breakers,
      clock: o.clock,
      sleep: o.sleep ?? realSleep,
      backoffMs: o.backoffMs ?? defaultBackoff,
      maxRetryAfterMs: o.maxRetryAfterMs ?? 60_000,
    };
  }

  /** Whether some agent runs async: its callbacks need this hub reachable at its public URL. */
  get runsAsync(): boolean {
    return this.async;
  }

  /** Whether any agent is configured (the hub mounts the source only then). */
  get size(): number {
    return this.agents.size;
  }

  async start(): Promise<void> {
    await this.sessionKey();
    this.tasks?.purge.start();
  }

  async stop(): Promise<void> {
    await this.tasks?.purge.stop();
    await this.tasks?.stopSubmissions();
  }

  status(): SourceStatus {
    return { state: 'ready', since: this.o.since, restarts: 0 };
  }

  onChange(_listener: (c: SourceChange) => void): () => void {
    // The list is fixed by the config: it never changes while the hub runs.
    return () => {};
  }

  tools(): readonly Tool[] {
    return this.listed;
  }

  /** Each agent's circuit, for `agents list` and `/readyz`. */
  circuits(): BreakerSnapshot[] | Promise<BreakerSnapshot[]> {
    // With Redis the calls go through the circuits every replica shares: those are the ones to show.
    return this.o.shared ? this.o.shared.snapshot() : this.breakers.snapshot();
  }

  async callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | CreateTaskResult> {
    // Reserved: no agent is named task_status (src/definition/names.ts).
    if (tool === TASK_STATUS && this.async && this.tasks) return redact(await this.tasks.status(args, ctx), this.secretValues);
    const agent = this.agents.get(tool);
    if (!agent) throw unknownTool(`agent__${tool}`);
    const input = args ?? {};
    agent.validateInput(input);
    const key = await this.sessionKey();
    const started = performance.now();
    const callId = randomUUID();
    if (this.tasks && isAsync(agent)) {
      await assertCallbackReaches(this.o.reach, tool);
      const run = (callback: CallbackFor, signal: AbortSignal) =>
        invokeChain(tool, input, { identity: ctx.identity, signal, callId, callback }, { ...this.deps, sessionKey: () => key });
      // As an MCP Task the submission outlives the request: its signal is the task's own (its cancel's).
      if (ctx.tasks) return ctx.tasks.backed('agent_task', (await this.tasks.start(agent, ctx.identity, run)).id);
      const signal = unlessCallerGone(ctx.signal);
      return redact(await this.tasks.call(agent, ctx, (callback) => run(callback, signal)), this.secretValues);
    }
    // A stream runs in this process: as a task it is a local one, ended failed if the hub stops mid-stream.
    if (ctx.tasks && isStream(agent)) {
      const { tasks: _run, reportProgress: _gone, ...rest } = ctx;
      return ctx.tasks.runLocal(({ signal }) => this.callTool(tool, args, { ...rest, signal }));
    }
    const progress = this.progress(ctx);
    try {
      const inv = await invokeChain(
        tool,
        input,
        { identity: ctx.identity, signal: ctx.signal, callId, ...(progress ? { onPartial: progress.push, onTry: progress.trying } : {}) },
        {
          ...this.deps,
          sessionKey: () => key,
        },
      );
      await progress?.flushed();
      // invoke.ts turns a queued answer without a callback into a failure: none gets here.
      if (inv.answer.kind !== 'output') throw new HubError('internal', `agent__${tool}: a queued answer reached the sync path`);
      const done = { ...inv, answer: inv.answer };
      const ms = Math.round(performance.now() - started);
      const { taskId, usage } = inv.answer;
      // Counted and logged once the answer is on its way: neither is on the caller's critical path.
      setImmediate(() => {
        this.metered?.answered(tool, inv, ms / 1000);
        // Task ids, latency and token counts; never the input or the output (seed 000, "Common Integration Mistakes").
        // The platform's id is the agent's text: one that echoes its request may carry the key.
        this.answeredLog.info(
          { agent: tool, answeredBy: inv.answeredBy, callId, taskId: taskId === undefined ? undefined : redact(taskId, this.secretValues), ms, usage },
          'agent answered',
        );
      });
      return redact(successResult(tool, done, agent.config.outputSchema !== undefined), this.secretValues);
    } catch (err) {
      await progress?.flushed();
      if (err instanceof ChainFailed) {
        const ms = Math.round(performance.now() - started);
        this.metered?.failed(tool, err.failures, ms / 1000);
        this.o.log.warn({ agent: tool, callId, ms, failures: err.failures.map((f) => ({ agent: f.agent, reason: f.reason })) }, 'agent gave no answer');
        return redact(failureResult(tool, err.failures), this.secretValues);
      }
      if (ctx.signal.aborted) this.metered?.cancelled(tool, (performance.now() - started) / 1000);
      if (ctx.signal.aborted) throw new HubError('cancelled', `agent__${tool} was cancelled`, { cause: err });
      throw err;
    }
  }

  /** A finished agent task as the result its call would have given (MCP Tasks read it with this). */
  renderTask(t: AgentTask): CallToolResult {
    return redact(resultOf(t, this.agents.get(t.agent)?.config.outputSchema !== undefined), this.secretValues);
  }

  private sessionKey(): Promise<Buffer> {
    this.key ??= this.o.secrets.secret(AGENT_SESSION_KEY);
    return this.key;
  }

  /** Partial output as MCP progress (progress.ts), only when the caller sent a progressToken. */
  private progress(ctx: CallContext): ProgressReporter | undefined {
    return ctx.reportProgress ? progressReporter(ctx.reportProgress, this.secretValues) : undefined;
  }
}

/** Whether an agent's answer streams in (its calls can run as local MCP Tasks). */
function isStream(a: AgentRuntime): boolean {
  return (a.config.protocol === 'upagents' && a.config.mode === 'stream') || (a.config.protocol === 'kore' && a.config.stream);
}

function toolOf(a: AgentRuntime): Tool {
  const c = a.config;
  const pinned = 'agentId' in c && c.agentId ? ` ${c.agentId}` : '';
  return {
    name: a.name,
    description: c.description ?? `Runs the agent ${a.name} (${c.protocol}${pinned}) and returns its answer.`,
    // As it is checked (validate-input.ts): an argument the schema does not declare is refused, so the list says so.
    inputSchema: closeSchema({ type: 'object', ...(c.inputSchema ?? DEFAULT_INPUT_SCHEMA) }) as Tool['inputSchema'],
    ...(c.outputSchema
      ? { outputSchema: isAsync(a) ? asyncOutputSchema(c.outputSchema) : ({ type: 'object', ...c.outputSchema } as Tool['outputSchema']) }
      : {}),
    // An agent acts in a world the hub does not bound (seed 001): open world, not read-only.
    annotations: { openWorldHint: true, readOnlyHint: false },
    ...(isAsync(a) || isStream(a) ? { execution: { taskSupport: 'optional' as const } } : {}),
  };
}

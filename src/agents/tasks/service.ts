import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { Clock } from '../../clock.js';
import { webhookSecretsOf } from '../../definition/agents.js';
import { HubError } from '../../errors.js';
import type { Identity } from '../../identity/identity.js';
import type { CallContext } from '../../mcp/source.js';
import type { Logger } from '../../observability/logger.js';
import { newOwnerId } from '../../oauth/owner.js';
import type { Vault } from '../../vault/vault.js';
import type { HandlerRegistry } from '../../webhooks/inbox/handlers.js';
import type { InboxIntake } from '../../webhooks/inbox/types.js';
import type { AgentRuntime, CallbackFor, Invocation } from '../invoke.js';
import type { AgentMetrics } from '../metrics.js';
import { startAsTask } from './as-task.js';
import { callAsync, type AsyncCallDeps } from './call.js';
import { CALLBACK_INTEGRATION, CALLBACK_PREFIX, callbackEventHandler, callbackRoute, type CallbackDeps } from './callback.js';
import { TaskEvents } from './events.js';
import { UPAGENTS_CALLBACK, koreCallback } from './formats.js';
import { DEFAULT_TASK_RETENTION_MS, TaskPurgeJob } from './purge.js';
import { TASK_STATUS_TOOL, readTask, taskStatus } from './status-tool.js';
import { redact } from '../scrub.js';
import { acceptAnswer } from '../validate-output.js';
import type { AgentTask, AgentTaskStore, TaskFailure, TaskOutcome, TaskOwner } from './types.js';

/** An unanswered task is timed_out after a day unless told otherwise. */
export const DEFAULT_TASK_TTL_MS = 24 * 60 * 60_000;

/** What the hub hands the agents for async tasks. */
export interface AgentTasksOptions {
  store: AgentTaskStore;
  intake: InboxIntake;
  handlers: HandlerRegistry;
  vault: Vault;
  /** Between a waiting call's reads of the store and its progress notifications (1 s). */
  pollMs?: number;
  taskTtlMs?: number;
  /** Finished tasks are deleted this long after they ended (7 days unless told otherwise). */
  retentionMs?: number;
}

/**
 * The store with every error, and the platform's task id, scrubbed of the agents' secrets before
 * it is written: an agent's error body or a failed callback may quote the key or the callback
 * secret, an agent that echoes its request may build its task id from it, and what is on disk
 * outlives a key's rotation (after which nothing would know to hide it). A callback's id is
 * compared with the stored one scrubbed the same way (callback.ts).
 */
function scrubbingErrors(store: AgentTaskStore, secrets: readonly string[]): AgentTaskStore {
  const scrubbed = (failures: readonly TaskFailure[] | undefined) =>
    failures?.map((f) => ({ ...f, message: redact(f.message, secrets), ...(f.detail === undefined ? {} : { detail: redact(f.detail, secrets) }) }));
  return {
    create: (task) => store.create(task),
    get: (id, owner) => store.get(id, owner),
    trying: (id, agent) => store.trying(id, agent),
    accepted: (id, by) => store.accepted(id, { ...by, remoteTaskId: redact(by.remoteTaskId, secrets), failures: scrubbed(by.failures) }),
    finish: (id: string, outcome: TaskOutcome) =>
      store.finish(
        id,
        outcome.state === 'completed'
          ? { ...outcome, failures: scrubbed(outcome.failures) }
          : { ...outcome, error: redact(outcome.error, secrets), failures: scrubbed(outcome.failures) },
      ),
    expire: (now, limit) => store.expire(now, limit),
    purge: (before, limit) => store.purge(before, limit),
  };
}

/** Whether an agent runs async: submitted with a callback URL on the hub. */
export function isAsync(a: AgentRuntime): boolean {
  return (a.config.protocol === 'upagents' && a.config.mode === 'async') || (a.config.protocol === 'kore' && a.config.async);
}

/**
 * Async agent tasks as the hub runs them: the store, the waits, the callback route and its inbox
 * handler, and `agent__task_status`. Built by the agent source when some agent runs async.
 */
export class AgentTasks {
  readonly events = new TaskEvents();
  readonly route: (req: IncomingMessage, res: ServerResponse, taskId: string) => Promise<void>;
  private readonly ownerProcess = newOwnerId();
  /**
   * The submissions of MCP Tasks this process is running, by task id: a cancel aborts one (its
   * request in flight and its retries' waits), and a hub that stops ends them failed.
   */
  private readonly submitting = new Map<string, { ctl: AbortController; agent: string }>();
  /** Times out expired tasks and deletes finished ones past their retention, hourly. */
  readonly purge: TaskPurgeJob;
  private readonly store: AgentTaskStore;

  constructor(
    private readonly o: AgentTasksOptions & {
      agents: ReadonlyMap<string, AgentRuntime>;
      publicUrl: () => string;
      clock: Clock;
      log: Logger;
      metered?: AgentMetrics | undefined;
      /** Scrubbed from the errors the store keeps. */
      secrets: readonly string[];
    },
  ) {
    this.store = scrubbingErrors(o.store, o.secrets);
    const deps: CallbackDeps = {
      tasks: this.store,
      intake: o.intake,
      vault: o.vault,
      events: this.events,
      formatOf: (task) => {
        const a = o.agents.get(task.answeredBy ?? task.agent);
        if (a?.config.protocol !== 'kore') return UPAGENTS_CALLBACK;
        return koreCallback(a.name, { structured: a.config.outputSchema !== undefined, signed: a.config.webhookSecret !== undefined });
      },
      // The agent that took the task (or is being submitted it) alone: another agent of its chain
      // was handed the same URL when it was tried, and its secret must not sign this task's answer.
      // Each of its secrets: a task submitted before a rotation was handed one listed after the first.
      secretsFor: (task) => {
        const a = o.agents.get(task.answeredBy ?? task.agent);
        return a === undefined || !isAsync(a) ? [] : webhookSecretsOf(a.config);
      },
      // As a sync answer is (invoke.ts): a fallback's text read as the called tool's object, held to its own checks and that tool's schema.
      acceptOutput: (task, output) => {
        const called = o.agents.get(task.agent);
        const answered = o.agents.get(task.answeredBy ?? task.agent) ?? called;
        return answered === undefined || called === undefined ? { output } : acceptAnswer(answered, called, output);
      },
      clock: o.clock,
      log: o.log,
      scrub: (text) => redact(text, o.secrets),
      metered: o.metered,
      configured: (task) => this.secretOf(task.answeredBy ?? task.agent) !== undefined,
    };
    this.purge = new TaskPurgeJob({
      store: this.store,
      clock: o.clock,
      log: o.log,
      retentionMs: o.retentionMs ?? DEFAULT_TASK_RETENTION_MS,
      metered: o.metered,
    });
    this.route = callbackRoute(deps);
    o.handlers.register(CALLBACK_INTEGRATION, callbackEventHandler(deps));
  }

  /** The hub tool `agent__task_status`. */
  get tool(): Tool {
    return TASK_STATUS_TOOL;
  }

  /** `/agents/callback/<taskId>` of a request, or undefined when it is not one. */
  static taskIdOf(method: string | undefined, url: string | undefined): string | undefined {
    if (method !== 'POST' || url === undefined || !url.startsWith(CALLBACK_PREFIX)) return undefined;
    const rest = url.slice(CALLBACK_PREFIX.length).split('?')[0]!;
    return rest === '' || rest.includes('/') ? undefined : rest;
  }

  call(agent: AgentRuntime, ctx: CallContext, run: (callback: CallbackFor) => Promise<Invocation>): Promise<CallToolResult> {
    return callAsync(agent, ctx, run, this.deps());
  }

  /**
   * The call as an MCP Task: the stored task at once, its submission after (as-task.ts). The
   * submission outlives the request, so its signal is its own: aborted by the task's cancel.
   */
  start(agent: AgentRuntime, identity: Identity, run: (callback: CallbackFor, signal: AbortSignal) => Promise<Invocation>): Promise<AgentTask> {
    const ctl = new AbortController();
    return startAsTask(agent, identity, (callback) => run(callback, ctl.signal), this.deps(), {
      started: (id) => this.submitting.set(id, { ctl, agent: agent.name }),
      settled: (id) => this.submitting.delete(id),
    });
  }

  /**
   * A hub that stops ends the submissions it is running as failed, saying so: nobody would finish
   * them, and their tasks would read `working` until their ttl. A task an agent already took is
   * not one of them (its callback finishes it, in whichever process takes it).
   */
  async stopSubmissions(): Promise<void> {
    const running = [...this.submitting];
    this.submitting.clear();
    await Promise.all(
      running.map(async ([id, { ctl, agent }]) => {
        const error = `the hub stopped while the task was being submitted to agent ${agent}; call it again`;
        if (await this.store.finish(id, { state: 'failed', error }).catch(() => false)) this.events.publish(id);
        ctl.abort(new HubError('cancelled', error));
      }),
    );
  }

  status(args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult> {
    return taskStatus(args, ctx, { tasks: this.store, clock: this.o.clock, metered: this.o.metered });
  }

  /** The owner's task, as agent__task_status reads it. */
  read(id: string, owner: TaskOwner): Promise<AgentTask | undefined> {
    return readTask(id, owner, { tasks: this.store, clock: this.o.clock, metered: this.o.metered });
  }

  /** Cancelled here (seed 000 has no cancel endpoint): a late callback is acknowledged and dropped. */
  async cancel(id: string): Promise<boolean> {
    const done = await this.store.finish(id, { state: 'cancelled', error: 'the caller cancelled the task' });
    if (done) this.events.publish(id);
    // A submission under way stops here: its request in flight and any retry's wait with it.
    if (done) this.submitting.get(id)?.ctl.abort(new HubError('cancelled', 'the caller cancelled the task'));
    return done;
  }

  private deps(): AsyncCallDeps {
    return {
      tasks: this.store,
      events: this.events,
      clock: this.o.clock,
      log: this.o.log,
      scrub: (text) => redact(text, this.o.secrets),
      ownerProcess: this.ownerProcess,
      callbackUrl: (id) => `${this.o.publicUrl().replace(/\/+$/, '')}${CALLBACK_PREFIX}${id}`,
      secretOf: (n) => this.secretOf(n),
      pollMs: this.o.pollMs ?? 1_000,
      taskTtlMs: this.o.taskTtlMs ?? DEFAULT_TASK_TTL_MS,
      metered: this.o.metered,
    };
  }

  /** The callback secret an async agent's new tasks are handed (its first); '' for a Kore agent configured without one (it sends unsigned). */
  private secretOf(name: string): string | undefined {
    const a = this.o.agents.get(name);
    if (a === undefined || !isAsync(a)) return undefined;
    return webhookSecretsOf(a.config)[0] ?? '';
  }
}

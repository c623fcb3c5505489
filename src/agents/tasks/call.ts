import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import { CallerGone, type CallContext } from '../../mcp/source.js';
import type { Logger } from '../../observability/logger.js';
import { ChainFailed, type AgentRuntime, type CallbackFor, type Invocation } from '../invoke.js';
import type { AgentCallStatus, AgentMetrics } from '../metrics.js';
import { AgentCallError, type AgentFailureReason } from '../policy.js';
import { META_AGENT, failureResult, successResult } from '../result.js';
import type { TaskEvents } from './events.js';
import { INVALID_OUTPUT_ERROR, isFinalTask, loggedTaskId, newTaskId, type AgentTask, type AgentTaskStore, type TaskFailure } from './types.js';

export interface AsyncCallDeps {
  tasks: AgentTaskStore;
  events: TaskEvents;
  clock: Clock;
  log: Logger;
  /** Text with the agents' secrets replaced: a platform's task id goes into the log only so. */
  scrub: (text: string) => string;
  /** This hub process, recorded on the tasks it submits. */
  ownerProcess: string;
  /** The hub's callback URL for a task. */
  callbackUrl: (taskId: string) => string;
  /** Whether an agent of the chain runs async, and the secret its callbacks are signed with ('' for an unsigned Kore agent); undefined for one called as configured. */
  secretOf: (agent: string) => string | undefined;
  /** Between the waiting call's reads of the store (and its progress notifications). */
  pollMs: number;
  /** An unanswered task is timed_out after this long. */
  taskTtlMs: number;
  /** Per-agent metrics, when the hub keeps any: an async call is counted as a sync one is. */
  metered?: Pick<AgentMetrics, 'answered' | 'failed' | 'cancelled' | 'taskCall'> | undefined;
}

/**
 * An async agent call (issue 10, "MCP behaviour"): the task is stored before it is submitted (its
 * callback URL names it), submitted with the signed-callback URL, and the call stays open with
 * progress until the callback lands or the agent's `waitMs` passes; then it answers with the
 * handle `{ taskId, state }` and the task goes on, as it does when the caller goes away without
 * cancelling (a 2025 connection closed: CallerGone). A cancel before that cancels the task here:
 * seed 000's tasks API has no cancel endpoint, so the platform is not told, and its late callback
 * is acknowledged and dropped.
 */
export async function callAsync(
  agent: AgentRuntime,
  ctx: CallContext,
  run: (callback: CallbackFor) => Promise<Invocation>,
  d: AsyncCallDeps,
): Promise<CallToolResult> {
  const owner = { tenant: ctx.identity.tenant, user: ctx.identity.user };
  const task = await d.tasks.create({
    id: newTaskId(),
    owner,
    agent: agent.name,
    ownerProcess: d.ownerProcess,
    expiresAt: d.clock.now() + d.taskTtlMs,
  });
  const structured = agent.config.outputSchema !== undefined;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let inv: Invocation;
  try {
    inv = await run(callbackFor(task.id, d));
  } catch (err) {
    if (err instanceof ChainFailed) {
      await d.tasks.finish(task.id, { state: 'failed', error: err.message, failures: storedFailures(err.failures) });
      d.metered?.failed(agent.name, err.failures, seconds());
      return failureResult(agent.name, err.failures);
    }
    if (!cancelledByCaller(ctx.signal)) throw err;
    await cancelled(task, d);
    d.metered?.cancelled(agent.name, seconds());
    throw new HubError('cancelled', `agent__${agent.name} was cancelled before the agent took the task`, { cause: err });
  }
  if (inv.answer.kind === 'output') {
    // A fallback that runs sync, or a platform that answered at once: the task is done already.
    await d.tasks.finish(task.id, { state: 'completed', result: inv.answer.output, failures: storedFailures(inv.failures) });
    d.metered?.answered(agent.name, inv, seconds());
    return successResult(agent.name, { ...inv, answer: inv.answer }, structured);
  }
  const { answeredBy } = inv;
  await d.tasks.accepted(task.id, { remoteTaskId: inv.answer.taskId, answeredBy, failures: storedFailures(inv.failures) });
  d.log.info({ agent: agent.name, answeredBy, task: loggedTaskId(task.id), remoteTask: d.scrub(inv.answer.taskId) }, 'agent task submitted');
  const progress = ctx.reportProgress;
  let n = 0;
  const say = (message: string) => void progress?.({ progress: ++n, message }).catch(() => {});
  say(`agent ${answeredBy} took the task ${task.id}; waiting for its answer`);
  const waitMs = 'waitMs' in agent.config ? agent.config.waitMs : 20_000;
  const done = await d.events.waitFor(task.id, () => d.tasks.get(task.id), {
    ms: waitMs,
    pollMs: d.pollMs,
    signal: ctx.signal,
    tick: () => say(`agent ${answeredBy} is still working on the task ${task.id}`),
  });
  const ended = (t: AgentTask, status: AgentCallStatus = t.state !== 'completed' ? 'error' : answeredBy === agent.name ? 'ok' : 'fallback') => {
    d.metered?.taskCall(agent.name, inv.failures, status, seconds());
    return resultOf(t, structured);
  };
  if (done !== undefined) return ended(done);
  if (ctx.signal.aborted && !cancelledByCaller(ctx.signal)) {
    // Nobody to answer, and nothing to cancel: the outcome is kept for agent__task_status.
    d.metered?.taskCall(agent.name, inv.failures, 'pending', seconds());
    d.log.info({ agent: agent.name, task: loggedTaskId(task.id) }, 'agent task goes on after its caller went away');
    throw new HubError('cancelled', `the caller of agent__${agent.name} went away; task ${task.id} goes on (agent__task_status returns its outcome)`);
  }
  if (ctx.signal.aborted) {
    const c = await cancelled(task, d);
    if (c === undefined) {
      d.metered?.taskCall(agent.name, inv.failures, 'cancelled', seconds());
      throw new HubError('cancelled', `agent__${agent.name} was cancelled (task ${task.id})`);
    }
    return ended(c);
  }
  const now = await d.tasks.get(task.id);
  if (now !== undefined && (now.state === 'completed' || now.state === 'failed')) return ended(now);
  const state = now?.state ?? 'running';
  d.metered?.taskCall(agent.name, inv.failures, 'pending', seconds());
  return {
    content: [
      {
        type: 'text',
        text: `agent ${answeredBy} is still working on the task ${task.id} (${state}). Call agent__task_status with {"taskId":"${task.id}"} for its result.`,
      },
    ],
    structuredContent: { taskId: task.id, state },
    _meta: { [META_AGENT]: { agent: agent.name, answeredBy, taskId: task.id } },
  };
}

/**
 * The callback each agent of the chain is submitted with. The task notes the agent first, so the
 * callback route verifies a callback under that agent's secret alone (callback.ts), even one that
 * outruns the submission's answer: an agent tried before it, which was handed the same URL, cannot
 * sign an answer for the task.
 */
export function callbackFor(taskId: string, d: AsyncCallDeps): CallbackFor {
  const url = d.callbackUrl(taskId);
  return async (candidate) => {
    if (!(await d.tasks.trying(taskId, candidate))) {
      // Cancelled while the chain was being submitted (an MCP Task's tasks/cancel, whose submission
      // has no request to abort): the next agent is not sent a task nobody waits for, to run and bill.
      const now = await d.tasks.get(taskId);
      if (now === undefined || isFinalTask(now.state)) throw new SubmissionStopped(taskId, candidate, now?.state);
    }
    const secret = d.secretOf(candidate);
    return secret === undefined ? undefined : { url, secret };
  };
}

/** The chain stopped before `agent` was tried: its task had ended (cancelled) meanwhile. */
export class SubmissionStopped extends Error {
  constructor(
    readonly taskId: string,
    readonly agent: string,
    readonly state: string | undefined,
  ) {
    super(`task ${taskId} ended ${state ?? 'and is gone'} before agent ${agent} was sent it; nothing was sent to it`);
  }
}

/** Aborted because the caller asked (not because it went away: see CallerGone). */
function cancelledByCaller(signal: AbortSignal): boolean {
  return signal.aborted && !(signal.reason instanceof CallerGone);
}

/**
 * `signal`, except that the caller going away does not abort it: an async agent's submission goes
 * on, so the task it starts can finish and be read back with agent__task_status.
 */
export function unlessCallerGone(signal: AbortSignal): AbortSignal {
  const own = new AbortController();
  const follow = () => {
    if (!(signal.reason instanceof CallerGone)) own.abort(signal.reason);
  };
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  return own.signal;
}

/** Cancelled here; the task as it is when its callback won the race (undefined once cancelled). */
async function cancelled(task: AgentTask, d: AsyncCallDeps): Promise<AgentTask | undefined> {
  if (await d.tasks.finish(task.id, { state: 'cancelled', error: 'the caller cancelled the call' })) {
    d.log.info({ agent: task.agent, task: loggedTaskId(task.id) }, 'agent task cancelled by its caller');
    return undefined;
  }
  const now = await d.tasks.get(task.id);
  return now?.state === 'completed' || now?.state === 'failed' ? now : undefined;
}

/** The failures a submission met, as the task keeps them. */
export function storedFailures(failures: readonly AgentCallError[]): TaskFailure[] {
  return failures.map((f) => ({
    agent: f.agent,
    reason: f.reason,
    message: f.message,
    ...(f.detail === undefined ? {} : { detail: f.detail }),
    ...(f.status === undefined ? {} : { status: f.status }),
  }));
}

/**
 * A finished task as the tool result a sync call would have given: a fallback's answer says why
 * the agents before it gave none, and a failure names each agent of the chain and why, those the
 * submission met (kept with the task) and then the one that took it.
 */
export function resultOf(t: AgentTask, structured: boolean): CallToolResult {
  const answeredBy = t.answeredBy ?? t.agent;
  const before = t.failures.map((f) => new AgentCallError(f.agent, f.reason, f.message, f.detail, f.status));
  if (t.state === 'completed') {
    const r = successResult(
      t.agent,
      { answeredBy, answer: { kind: 'output', output: t.result, ...(t.remoteTaskId ? { taskId: t.remoteTaskId } : {}) }, failures: before },
      structured,
    );
    return { ...r, _meta: { [META_AGENT]: { ...(r._meta?.[META_AGENT] as object), hubTaskId: t.id } } };
  }
  // No agent took it (the platform never bound its id): the submission's failures are the whole story.
  if (t.state === 'failed' && t.remoteTaskId === null && before.length > 0) return failureResult(t.agent, before);
  return failureResult(t.agent, [
    ...before,
    new AgentCallError(answeredBy, finalReason(t), `agent ${answeredBy}: task ${t.id} ${t.state}${t.error ? `: ${t.error}` : ''}`),
  ]);
}

/**
 * Why the agent that took the task gave no answer, in the words a sync call's failure uses (and
 * the metrics count it by): an output that failed its checks, no answer before the task expired,
 * else the failure its platform reported (or a cancel).
 */
function finalReason(t: AgentTask): AgentFailureReason {
  if (t.state === 'timed_out') return 'timeout';
  return t.state === 'failed' && t.error?.startsWith(INVALID_OUTPUT_ERROR) ? 'invalid_output' : 'agent_error';
}

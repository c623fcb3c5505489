import { describeError } from '../../errors.js';
import type { Identity } from '../../identity/identity.js';
import { ChainFailed, type AgentRuntime, type CallbackFor, type Invocation } from '../invoke.js';
import { SubmissionStopped, callbackFor, storedFailures, type AsyncCallDeps } from './call.js';
import { loggedTaskId, newTaskId, type AgentTask } from './types.js';

/**
 * An async agent call as an MCP Task (issue 11): the agent task row is the task's state, so it is
 * stored first and the registry record points at it. The submission runs after the
 * CreateTaskResult has gone out, and lands on the row with the guarded moves a waiting call uses;
 * the callback finishes the task later, as it does for any async call.
 */
/** Told when a task's submission starts and when it has settled (the service keeps its cancel by them). */
export interface SubmissionHooks {
  started(taskId: string): void;
  settled(taskId: string): void;
}

export async function startAsTask(
  agent: AgentRuntime,
  identity: Identity,
  run: (callback: CallbackFor) => Promise<Invocation>,
  d: AsyncCallDeps,
  hooks?: SubmissionHooks,
): Promise<AgentTask> {
  const task = await d.tasks.create({
    id: newTaskId(),
    owner: { tenant: identity.tenant, user: identity.user },
    agent: agent.name,
    ownerProcess: d.ownerProcess,
    expiresAt: d.clock.now() + d.taskTtlMs,
  });
  hooks?.started(task.id);
  void submit(task, run, d, performance.now()).finally(() => hooks?.settled(task.id));
  return task;
}

/**
 * The submission, counted in the per-agent metrics as a waiting call is (call.ts): a task the agent
 * took is `pending` once submitted, as a waiting call whose caller went away is — its agent's answer
 * is counted when the callback ends the task (callback.ts), in whichever process takes it — and one
 * the submission settled is counted by how it ended, the agents tried before included.
 */
async function submit(task: AgentTask, run: Parameters<typeof startAsTask>[2], d: AsyncCallDeps, started: number): Promise<void> {
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const inv = await run(callbackFor(task.id, d));
    if (inv.answer.kind === 'output') {
      // A fallback that runs sync, or a platform that answered at once: done already.
      await d.tasks.finish(task.id, { state: 'completed', result: inv.answer.output, failures: storedFailures(inv.failures) });
      d.metered?.answered(task.agent, inv, seconds());
    } else {
      // A cancel that came first keeps its `cancelled`: `accepted` only binds the platform's id then.
      await d.tasks.accepted(task.id, { remoteTaskId: inv.answer.taskId, answeredBy: inv.answeredBy, failures: storedFailures(inv.failures) });
      d.metered?.taskCall(task.agent, inv.failures, 'pending', seconds());
      d.log.info(
        { agent: task.agent, answeredBy: inv.answeredBy, task: loggedTaskId(task.id), remoteTask: d.scrub(inv.answer.taskId) },
        'agent task submitted',
      );
    }
  } catch (err) {
    // A cancel aborts the submission under way (service.ts): the task is cancelled already.
    const cancelledMeanwhile = !(err instanceof SubmissionStopped) && (await d.tasks.get(task.id).catch(() => undefined))?.state === 'cancelled';
    if (err instanceof SubmissionStopped || cancelledMeanwhile) {
      // Its caller cancelled it while the chain was being submitted: counted as the direct call's cancel is.
      d.metered?.taskCall(task.agent, [], 'cancelled', seconds());
      const next = err instanceof SubmissionStopped ? err.agent : undefined;
      d.log.info({ agent: task.agent, task: loggedTaskId(task.id), next }, 'agent task ended before its submission did');
      d.events.publish(task.id);
      return;
    }
    // The failures' reasons only: an agent's error text is kept on the row for its owner, not logged.
    const why = err instanceof ChainFailed ? err.message : describeError(err);
    const failures = err instanceof ChainFailed ? storedFailures(err.failures) : [];
    await d.tasks.finish(task.id, { state: 'failed', error: why, failures }).catch(() => false);
    d.metered?.failed(task.agent, err instanceof ChainFailed ? err.failures : [], seconds());
    d.log.warn(
      { agent: task.agent, task: loggedTaskId(task.id), failures: err instanceof ChainFailed ? err.failures.map((f) => f.reason) : undefined },
      'agent task not submitted',
    );
  }
  d.events.publish(task.id);
}

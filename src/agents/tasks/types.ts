import { randomBytes } from 'node:crypto';
import type { AgentFailureReason } from '../policy.js';

/**
 * An async agent task's life (issue 10): submitted (row made, request on its way), running (the
 * platform took it), then one final state. Guarded in SQL: a transition names the states it
 * leaves, so a late callback cannot reopen a cancelled or timed-out task.
 */
export const TASK_STATES = ['submitted', 'running', 'completed', 'failed', 'cancelled', 'timed_out'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export type FinalTaskState = Exclude<TaskState, 'submitted' | 'running'>;

export function isFinalTask(state: TaskState): state is FinalTaskState {
  return state !== 'submitted' && state !== 'running';
}

/** Who may read a task: the identity that called the agent. */
export interface TaskOwner {
  tenant: string;
  user: string;
}

export interface AgentTask {
  /** Unguessable: it is in the callback URL the platform is given. */
  id: string;
  owner: TaskOwner;
  /** The tool called (`agent__<agent>`). */
  agent: string;
  /**
   * The agent of the chain that took the task (a fallback, perhaps); while it is being submitted,
   * the agent being tried (whose secret alone may sign its callback); null before the first.
   */
  answeredBy: string | null;
  /** The platform's own id of the task: a callback must carry it. */
  remoteTaskId: string | null;
  state: TaskState;
  /** The agent's output once completed (kept sealed in the store). */
  result: unknown;
  error: string | null;
  /**
   * The agents of the chain that gave no answer while the task was submitted, and why: the ones
   * tried before the agent that took it, or every one when none did. Its result names them.
   */
  failures: TaskFailure[];
  /** The hub process that submitted it (and whose call may still be waiting). */
  ownerProcess: string;
  createdAt: number;
  updatedAt: number;
  /** Unanswered by then, the task is timed_out. */
  expiresAt: number;
}

/** One agent's failure as a task keeps it (policy.ts's AgentCallError, stored). */
export interface TaskFailure {
  agent: string;
  reason: AgentFailureReason;
  message: string;
  detail?: string;
  /** The agent's HTTP status, for a `status` failure: it picks the error code (policy.ts codeOf). */
  status?: number;
}

export interface NewAgentTask {
  id: string;
  owner: TaskOwner;
  agent: string;
  ownerProcess: string;
  expiresAt: number;
}

/** A final state; `failures` when the submission ends it (a fallback that answered at once, or none that answered). */
export type TaskOutcome = ({ state: 'completed'; result: unknown } | { state: 'failed' | 'cancelled' | 'timed_out'; error: string }) & {
  failures?: readonly TaskFailure[];
};

/** Async agent tasks (STYLE.md §10): a tiny interface, one contract test, SQLite behind it. */
export interface AgentTaskStore {
  create(task: NewAgentTask): Promise<AgentTask>;
  /** With `owner`, another identity's task is undefined: ids reveal nothing across users. */
  get(id: string, owner?: TaskOwner): Promise<AgentTask | undefined>;
  /** Notes the agent of the chain being tried, while no platform has taken the task; false otherwise. */
  trying(id: string, agent: string): Promise<boolean>;
  /**
   * Binds the task to the platform's id (and, from the submission, the agent that took it);
   * submitted → running. True when the task is bound to this id, now or before; false when it is
   * bound to another (a callback for this task's URL that names another task) or unknown.
   */
  accepted(id: string, by: TaskTaker): Promise<boolean>;
  /** submitted | running → a final state (its `failures` kept with it); false when it was final already (exactly one finish wins). */
  finish(id: string, outcome: TaskOutcome): Promise<boolean>;
  /** Up to `limit` unfinished tasks past their expiry, timed_out now; the ones this call ended. */
  expire(now: number, limit: number): Promise<ExpiredTask[]>;
  /** Deletes up to `limit` finished tasks last changed before `before`; how many it deleted. */
  purge(before: number, limit: number): Promise<number>;
}

/** Who took a task: the platform's id, and from the submission the agent and the failures before it. */
export interface TaskTaker {
  remoteTaskId: string;
  answeredBy?: string;
  failures?: readonly TaskFailure[];
}

/** A task the expiry sweep ended: whose it was, for the metrics. */
export interface ExpiredTask {
  id: string;
  agent: string;
  answeredBy: string | null;
}

/**
 * How the error of a task whose taker's output failed its checks begins (callback.ts): its result
 * reads it back as the reason `invalid_output`, as a sync call's failure says (call.ts).
 */
export const INVALID_OUTPUT_ERROR = 'invalid output: ';

/** The error an expired task keeps (agent__task_status and the sweep write the same). */
export const EXPIRED_ERROR = 'no answer came before the task expired';

/** 128 random bits, base64url: the callback URL is the only place it is written down outside the store. */
export function newTaskId(): string {
  return `at_${randomBytes(16).toString('base64url')}`;
}

/**
 * A task id as logs carry it: its first characters, enough to find the task, too few to post to
 * its callback URL, which is an unsigned Kore callback's only credential.
 */
export function loggedTaskId(id: string): string {
  return `${id.slice(0, 8)}…`;
}

/** An error text kept on a task is bounded: an agent's message may be long. */
export const MAX_TASK_ERROR_CHARS = 1000;

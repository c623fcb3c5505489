/**
 * MCP Tasks (SEP-2663, `io.modelcontextprotocol/tasks`): the registry's record and the two small
 * interfaces behind it. A record maps a hub task id to its owner and its backing; the state of an
 * agent task or an outbox job is read from that store (one record, not a copy), while a `local`
 * task — a tool the hub runs in-process — keeps its state and result in the record itself.
 */

export const TASK_STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Where a task's state lives. `downstream`: the task id a downstream MCP server gave it. */
export type BackingKind = 'local' | 'agent_task' | 'outbox_job' | 'downstream';

export interface TaskOwner {
  tenant: string;
  user: string;
}

/** A JSON-RPC error as a failed task carries it. */
export interface TaskError {
  code: number;
  message: string;
  data?: unknown;
}

/** What a backing reports: the task's state now, and its outcome once there is one. */
export interface TaskState {
  status: TaskStatus;
  /** The tool's result (a CallToolResult), set when completed. */
  result?: Record<string, unknown>;
  /**
   * Set when failed: a protocol-level error. A failed task without one carries the tool's own
   * isError result in `result` (2025-11-25 counts it as failed, SEP-2663 as completed: wire.ts).
   */
  error?: TaskError;
  /** Set when input_required: the still-unanswered requests, keyed by server-minted ids. */
  inputRequests?: Record<string, unknown>;
  /** Words for a person, e.g. why it failed. */
  statusMessage?: string;
  /**
   * When the backing record last changed (the agent task's or the job's own update time), as a
   * backing reports it: a change first read later (after a restart, or applied by another process)
   * is recorded as made then. Never stored as such.
   */
  changedAt?: number;
}

export interface TaskRecord extends TaskState {
  /** Unguessable: the only thing a client names a task by. */
  id: string;
  owner: TaskOwner;
  backing: { kind: BackingKind; id: string };
  /** Tool that made it, for logs and listings. */
  tool: string;
  ttlMs: number;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
}

/** The fields of a local task a runner moves; guarded so a finished task never changes again. */
export type TaskUpdate = TaskState;

/**
 * Storage of task records. Reads take the owner and `now`: a record of someone else, or past its
 * expiry, is not returned at all, so "not yours" and "not found" cannot be told apart.
 */
export interface TaskRepository {
  create(record: TaskRecord): Promise<void>;
  get(id: string, owner: TaskOwner, now: number): Promise<TaskRecord | undefined>;
  /**
   * Moves a task that is not yet finished to `update`; false when it had already finished (a
   * cancel that won the race keeps its `cancelled`), expired or does not exist.
   */
  update(id: string, update: TaskUpdate, now: number): Promise<boolean>;
  /** Deletes records past their expiry; returns how many. */
  purgeExpired(now: number): Promise<number>;
  /** The owner's unexpired tasks, oldest first, `limit` at most, after the `after` task id (a page cursor). */
  list(owner: TaskOwner, now: number, opts: { after?: string; limit: number }): Promise<TaskRecord[]>;
}

/**
 * One per backing kind: reads the state from the store that owns it and acts on it. `local` is
 * the registry's own; `agent_task` and `outbox_job` read the agents' and the outbox's records.
 */
export interface TaskBacking {
  readonly kind: BackingKind;
  state(record: TaskRecord): Promise<TaskState>;
  /**
   * Asks the work to stop; the task settles to `cancelled` unless it finished first. 'too_late':
   * the work can no longer be stopped (a queued write whose request already left); anything else
   * means it was asked to stop.
   */
  cancel(record: TaskRecord): Promise<unknown>;
  /** Delivers answers to the task's pending input requests (tasks/update). */
  supplyInput(record: TaskRecord, responses: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * Calls `changed` when this process sees the backing record change (its store's own events),
   * until it is final; returns the unsubscribe. Without it, watchers see changes only by polling.
   */
  follow?(record: TaskRecord, changed: () => void): () => void;
}

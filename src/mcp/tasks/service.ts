import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { HubError } from '../../errors.js';
import { taskNotFound } from './errors.js';
import { LocalBacking, type LocalWork } from './local.js';
import { isTerminal, type BackingKind, type TaskBacking, type TaskOwner, type TaskRecord, type TaskRepository, type TaskState } from './types.js';

/** How long a finished task stays readable when nothing else is said (SEP-2663 `ttlMs`). */
export const DEFAULT_TTL_MS = 60 * 60_000;
/**
 * The longest `ttl` a client may ask for (2025-11-25 `task.ttl`): a record outliving the agent
 * task's own expiry (a day) would only ever read as failed. SEP-2663 lets a server pick another.
 */
export const MAX_TTL_MS = 24 * 60 * 60_000;
/** The shortest: a task must stay readable long enough for a client to poll it once. */
export const MIN_TTL_MS = 1_000;
/** The poll interval suggested to clients. */
export const POLL_INTERVAL_MS = 500;
/** Unfinished local tasks one owner may have running in a process: each holds work in memory. */
export const MAX_RUNNING_PER_OWNER = 100;
/** Expired records are deleted at most this often, on the way of a create. */
const PURGE_EVERY_MS = 60_000;

export interface TaskServiceOptions {
  repo: TaskRepository;
  clock: Clock;
  log: Logger;
  ttlMs?: number;
  maxRunningPerOwner?: number;
}

/** A task as the protocol layer shows it: the record, with the state its backing reports now. */
export interface TaskView extends TaskState {
  id: string;
  createdAt: number;
  updatedAt: number;
  ttlMs: number;
  pollIntervalMs: number;
}

/**
 * The task registry: creates tasks, and reads, cancels and feeds them for their owner only. The
 * backing of each kind answers for its state; `local` is built in, others are added with `use`.
 */
export class TaskService {
  readonly local: LocalBacking;
  private readonly backings = new Map<BackingKind, TaskBacking>();
  private lastPurge = Number.NEGATIVE_INFINITY;
  private readonly watchers = new Map<string, Set<() => void>>();
  private stopping = false;

  constructor(private readonly opts: TaskServiceOptions) {
    this.local = new LocalBacking({ repo: opts.repo, clock: opts.clock, log: opts.log, onChange: (id) => this.changed(id) });
    this.use(this.local);
  }

  /**
   * Calls `listener` when a task this process moves changes state (status notifications, a
   * waiting tasks/result). Tasks moved by another process or store are seen by polling instead.
   */
  watch(id: string, listener: () => void): () => void {
    const set = this.watchers.get(id) ?? new Set();
    set.add(listener);
    this.watchers.set(id, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(id) === set) this.watchers.delete(id);
    };
  }

  /**
   * The hub is stopping (before its faces close): a waiting tasks/result is woken and answers
   * hub_stopping on its still open stream, where closing the stream left the client no answer.
   */
  beginStop(): void {
    this.stopping = true;
    for (const id of [...this.watchers.keys()]) this.changed(id);
  }

  /** Whether beginStop was called: waits on tasks end. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Tells the watchers of a task it changed; the backings of other kinds call it too. */
  changed(id: string): void {
    for (const l of this.watchers.get(id) ?? []) {
      try {
        l();
      } catch {
        // one watcher (a closed session) must not keep the others from hearing it
      }
    }
  }

  /**
   * A page of the owner's tasks, oldest first; `after` is the last task id of the previous page.
   * A cursor naming no task of the owner's (expired, purged, someone else's) is -32602: an empty
   * page would end the listing silently, short of the tasks after it.
   */
  async list(owner: TaskOwner, after: string | undefined, limit: number): Promise<TaskView[]> {
    const now = this.opts.clock.now();
    if (after !== undefined && (await this.opts.repo.get(after, owner, now)) === undefined)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'invalid pagination cursor: it names no task of yours (it may have expired)');
    // A record of a kind this process does not serve (an agent task, on a `stdio` hub without
    // agents) is left out, as get would not find it either. The page is filled past them: one
    // short page told the caller (tasks/list, which asks one more than it shows) that nothing
    // followed, and the listing ended before the caller's later tasks.
    const served: TaskRecord[] = [];
    let cursor = after;
    for (;;) {
      const records = await this.opts.repo.list(owner, now, cursor === undefined ? { limit } : { after: cursor, limit });
      for (const r of records) if (served.length < limit && this.backings.has(r.backing.kind)) served.push(r);
      const last = records.at(-1);
      if (served.length >= limit || records.length < limit || last === undefined) break;
      cursor = last.id;
    }
    return Promise.all(served.map(async (r) => this.read(r)));
  }

  /** Registers the backing of a kind (the agents' and the outbox's, from the composition root). */
  use(backing: TaskBacking): void {
    this.backings.set(backing.kind, backing);
  }

  /**
   * Creates a task for `owner` that runs `work` in this process. The record is stored before this
   * resolves, so a tasks/get right after the CreateTaskResult finds it (SEP-2663 durable create).
   */
  async runLocal(owner: TaskOwner, tool: string, work: LocalWork, ttlMs?: number): Promise<TaskView> {
    const limit = this.opts.maxRunningPerOwner ?? MAX_RUNNING_PER_OWNER;
    if (this.local.running(owner) >= limit) {
      throw new HubError('limit_reached', `${limit} tasks are still running for this user; wait for one to finish or cancel one`);
    }
    const record = await this.create(owner, tool, { kind: 'local', id: this.local.processId }, ttlMs);
    this.local.start(record, work);
    return this.view(record, record);
  }

  /** Creates a task whose state lives in another store (an agent task, an outbox job). */
  async createBacked(owner: TaskOwner, tool: string, backing: { kind: Exclude<BackingKind, 'local'>; id: string }, ttlMs?: number): Promise<TaskView> {
    if (!this.backings.has(backing.kind)) throw new Error(`no task backing of kind ${backing.kind} is registered`);
    const record = await this.create(owner, tool, backing, ttlMs);
    const b = this.backingOf(record);
    // Its store's events, not polling, tell the watchers (status notifications, a waiting tasks/result).
    // Its final state is recorded as soon as it is reached, whoever reads the task first.
    const unfollow = b.follow?.(record, () => {
      this.changed(record.id);
      void this.read(record).catch((err: unknown) => this.opts.log.warn({ task: record.id, err: String(err) }, 'could not record the final state of a task'));
    });
    const view = await this.read(record);
    if (isTerminal(view.status)) unfollow?.();
    return view;
  }

  /** The task as its owner sees it; anyone else, or an expired id, gets the one not-found error. */
  async get(owner: TaskOwner, id: string): Promise<TaskView> {
    return this.read(await this.find(owner, id));
  }

  /**
   * Cancels an unfinished task; a finished one keeps its final state. What the caller is told:
   * 'terminal' (it had finished: a no-op, SEP-2663; 2025-11-25 answers -32602), 'too_late' (its
   * work can no longer be stopped), else undefined.
   */
  async cancel(owner: TaskOwner, id: string): Promise<'terminal' | 'too_late' | undefined> {
    const record = await this.find(owner, id);
    const view = await this.read(record);
    if (isTerminal(view.status)) return 'terminal';
    return (await this.backingOf(record).cancel(record)) === 'too_late' ? 'too_late' : undefined;
  }

  /** Delivers answers to a task's input requests (tasks/update); answers to nothing pending are ignored. */
  async supplyInput(owner: TaskOwner, id: string, responses: Readonly<Record<string, unknown>>): Promise<void> {
    const record = await this.find(owner, id);
    await this.backingOf(record).supplyInput(record, responses);
  }

  /** How long a task asked with `requestedTtlMs` (2025-11-25 `task.ttl`) stays readable: the default, or the ask within bounds. */
  ttlFor(requestedTtlMs?: number): number {
    if (requestedTtlMs === undefined) return this.opts.ttlMs ?? DEFAULT_TTL_MS;
    return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.round(requestedTtlMs)));
  }

  /** Stops the work this process runs as tasks (hub shutdown); see LocalBacking.close. */
  close(): Promise<void> {
    return this.local.close();
  }

  private async create(owner: TaskOwner, tool: string, backing: TaskRecord['backing'], requestedTtlMs?: number): Promise<TaskRecord> {
    const now = this.opts.clock.now();
    await this.purge(now);
    const ttlMs = this.ttlFor(requestedTtlMs);
    const record: TaskRecord = {
      // 128 random bits: a task id is the only thing that names a task, so it must not be guessable.
      id: `task_${randomBytes(16).toString('base64url')}`,
      owner: { tenant: owner.tenant, user: owner.user },
      backing,
      tool,
      status: 'working',
      ttlMs,
      expiresAt: now + ttlMs,
      createdAt: now,
      updatedAt: now,
    };
    await this.opts.repo.create(record);
    return record;
  }

  private async find(owner: TaskOwner, id: string): Promise<TaskRecord> {
    const record = await this.opts.repo.get(id, owner, this.opts.clock.now());
    if (!record) throw taskNotFound();
    return record;
  }

  private backingOf(record: TaskRecord): TaskBacking {
    const backing = this.backings.get(record.backing.kind);
    // A record of a kind this process does not serve (a `stdio` hub without agents) cannot be read here.
    if (!backing) throw taskNotFound();
    return backing;
  }

  /**
   * The task's state now. A task is final once it reads terminal (spec: completed, failed and
   * cancelled never change): the first terminal state a backing reports is recorded, and from then
   * on the record answers, whatever later happens to the job or agent task behind it (a `queue
   * retry`, a purge). Each change of status or message is recorded too, at the time the backing
   * says it changed, so `updatedAt` is the task's last change. A local task records its own
   * changes (LocalBacking).
   */
  private async read(record: TaskRecord): Promise<TaskView> {
    if (isTerminal(record.status)) return this.view(record, record);
    const state = await this.backingOf(record).state(record);
    if (record.backing.kind === 'local' || !changedFrom(record, state)) return this.view(record, state);
    const now = this.opts.clock.now();
    // Recorded as made when its backing record moved, not when this read noticed it (a restart, a
    // callback another process applied), bounded by the record's last change and now. The update's
    // expiry guard then looks at that time: a record that expired since only gets a state nobody reads.
    const at = Math.min(now, Math.max(record.updatedAt, state.changedAt ?? now));
    if (await this.opts.repo.update(record.id, state, at)) return this.view({ ...record, updatedAt: at }, state);
    // Moved meanwhile (another reader recorded a final state first): that one stands.
    const again = await this.opts.repo.get(record.id, record.owner, now);
    if (again && isTerminal(again.status)) return this.view(again, again);
    return this.view(record, state);
  }

  private view(record: TaskRecord, state: TaskState): TaskView {
    const { status, result, error, inputRequests, statusMessage } = state;
    const shown: TaskState = { status };
    if (result !== undefined) shown.result = result;
    if (error !== undefined) shown.error = error;
    if (inputRequests !== undefined) shown.inputRequests = inputRequests;
    if (statusMessage !== undefined) shown.statusMessage = statusMessage;
    return { ...shown, id: record.id, createdAt: record.createdAt, updatedAt: record.updatedAt, ttlMs: record.ttlMs, pollIntervalMs: POLL_INTERVAL_MS };
  }

  private async purge(now: number): Promise<void> {
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    const purged = await this.opts.repo.purgeExpired(now);
    if (purged > 0) this.opts.log.debug({ purged }, 'expired tasks purged');
  }
}

/** Whether a backing's state differs from what the record last recorded (worth a write). */
function changedFrom(record: TaskRecord, s: TaskState): boolean {
  if (s.status !== record.status || s.statusMessage !== record.statusMessage) return true;
  return s.status === 'input_required' && JSON.stringify(s.inputRequests) !== JSON.stringify(record.inputRequests);
}

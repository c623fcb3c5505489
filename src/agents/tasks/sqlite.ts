import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import { cutText } from '../../providers/cut-text.js';
import type { Db } from '../../store/db.js';
import { Vault } from '../../vault/vault.js';
import { FAILURE_REASONS } from '../policy.js';
import {
  EXPIRED_ERROR,
  MAX_TASK_ERROR_CHARS,
  TASK_STATES,
  type AgentTask,
  type AgentTaskStore,
  type ExpiredTask,
  type NewAgentTask,
  type TaskFailure,
  type TaskOutcome,
  type TaskOwner,
  type TaskTaker,
} from './types.js';

export const rowSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  agent: z.string(),
  answered_by: z.string().nullable(),
  remote_task_id: z.string().nullable(),
  state: z.enum(TASK_STATES),
  result: z.string().nullable(),
  error: z.string().nullable(),
  failures: z.string().nullable(),
  owner_process: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
  expires_at: z.number(),
});
export type Row = z.infer<typeof rowSchema>;

export const expiredSchema = z.object({ id: z.string(), agent: z.string(), answered_by: z.string().nullable() });

export const COLUMNS =
  'id, tenant_id, user_id, agent, answered_by, remote_task_id, state, result, error, failures, owner_process, created_at, updated_at, expires_at';
export const RESULT_KIND = 'agent_task_result';
export const ERROR_KIND = 'agent_task_error';
export const FAILURES_KIND = 'agent_task_failures';

const failuresSchema = z.array(
  z
    .object({ agent: z.string(), reason: z.enum(FAILURE_REASONS), message: z.string(), detail: z.string().optional(), status: z.number().int().optional() })
    .transform(
      (f): TaskFailure => ({
        agent: f.agent,
        reason: f.reason,
        message: cutText(f.message, MAX_TASK_ERROR_CHARS),
        ...(f.detail === undefined ? {} : { detail: f.detail }),
        ...(f.status === undefined ? {} : { status: f.status }),
      }),
    ),
);

/**
 * The failures a submission met, sealed as the error is (an agent's error text may quote what the
 * user gave it); null when there are none to write, so a write keeps what is there.
 */
export async function sealFailures(vault: Vault, tenant: string, id: string, failures: readonly TaskFailure[] | undefined): Promise<string | null> {
  if (failures === undefined || failures.length === 0) return null;
  await vault.ensureDataKey(tenant);
  const bounded = failures.map((f) => ({ ...f, message: cutText(f.message, MAX_TASK_ERROR_CHARS) }));
  return vault.encrypt({ tenant, kind: FAILURES_KIND, id }, JSON.stringify(bounded));
}

/**
 * What a finish writes: the output, or the error (an agent's error may quote what the user gave it
 * too), sealed with the owner's tenant data key and bound to the task id.
 */
export async function sealOutcome(vault: Vault, tenant: string, id: string, outcome: TaskOutcome): Promise<{ result: string | null; error: string | null }> {
  await vault.ensureDataKey(tenant);
  if (outcome.state === 'completed') return { result: vault.encrypt({ tenant, kind: RESULT_KIND, id }, JSON.stringify(outcome.result ?? null)), error: null };
  return { result: null, error: vault.encrypt({ tenant, kind: ERROR_KIND, id }, cutText(outcome.error, MAX_TASK_ERROR_CHARS)) };
}

/**
 * Agent tasks on SQLite. An output is sealed with the owner's tenant data key, bound to the task
 * id (an agent's answer may hold whatever the user gave it: it is never stored or logged in the
 * clear). `now` comes from the injected clock and goes into SQL as a parameter.
 */
export class SqliteAgentTasks implements AgentTaskStore {
  private readonly st: Record<'insert' | 'get' | 'trying' | 'accepted' | 'finish' | 'expire' | 'purge', Statement>;

  constructor(
    db: Db,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {
    this.st = {
      insert: db.prepare(`INSERT INTO agent_tasks (id, tenant_id, user_id, agent, state, owner_process, created_at, updated_at, expires_at)
        VALUES (@id, @tenant, @user, @agent, 'submitted', @ownerProcess, @now, @now, @expiresAt)`),
      get: db.prepare(`SELECT ${COLUMNS} FROM agent_tasks WHERE id = ?`),
      // Only before any platform took it: after, answered_by is the taker and stays so.
      trying: db.prepare(`UPDATE agent_tasks SET answered_by = @agent, updated_at = @now
        WHERE id = @id AND state = 'submitted' AND remote_task_id IS NULL`),
      // Bound once: the first verified callback or the submission's answer, whichever comes first
      // (a fast platform's callback can outrun its own answer); another id is refused after.
      accepted: db.prepare(`UPDATE agent_tasks SET remote_task_id = @remoteTaskId, answered_by = coalesce(@answeredBy, answered_by),
          failures = coalesce(@failures, failures),
          state = CASE state WHEN 'submitted' THEN 'running' ELSE state END, updated_at = @now
        WHERE id = @id AND (remote_task_id IS NULL OR remote_task_id = @remoteTaskId)`),
      finish: db.prepare(`UPDATE agent_tasks SET state = @to, result = @result, error = @error, failures = coalesce(@failures, failures), updated_at = @now
        WHERE id = @id AND state IN ('submitted', 'running')`),
      // The same guarded transition as finish: a callback that wins the race keeps its outcome.
      expire: db.prepare(`UPDATE agent_tasks SET state = 'timed_out', error = @error, updated_at = @now
        WHERE id IN (SELECT id FROM agent_tasks WHERE state IN ('submitted', 'running') AND expires_at <= @now LIMIT @limit)
          AND state IN ('submitted', 'running')
        RETURNING id, agent, answered_by`),
      // Final states only: an unfinished task is kept until it expires and is timed_out first.
      purge: db.prepare(`DELETE FROM agent_tasks WHERE id IN (SELECT id FROM agent_tasks
        WHERE state IN ('completed', 'failed', 'cancelled', 'timed_out') AND updated_at < @before LIMIT @limit)`),
    };
  }

  async create(t: NewAgentTask): Promise<AgentTask> {
    const now = this.clock.now();
    this.st.insert.run({ id: t.id, tenant: t.owner.tenant, user: t.owner.user, agent: t.agent, ownerProcess: t.ownerProcess, now, expiresAt: t.expiresAt });
    const created = await this.get(t.id);
    if (created === undefined) throw new HubError('store_failed', `agent task ${t.id} was not stored`);
    return created;
  }

  async get(id: string, owner?: TaskOwner): Promise<AgentTask | undefined> {
    const raw = this.st.get.get(id);
    if (raw === undefined) return undefined;
    const r = rowSchema.parse(raw);
    if (owner !== undefined && (r.tenant_id !== owner.tenant || r.user_id !== owner.user)) return undefined;
    return openTask(this.vault, r);
  }

  async trying(id: string, agent: string): Promise<boolean> {
    return this.st.trying.run({ id, agent, now: this.clock.now() }).changes === 1;
  }

  async accepted(id: string, by: TaskTaker): Promise<boolean> {
    const failures = await this.sealedFailures(id, by.failures);
    return this.st.accepted.run({ id, remoteTaskId: by.remoteTaskId, answeredBy: by.answeredBy ?? null, failures, now: this.clock.now() }).changes === 1;
  }

  async finish(id: string, outcome: TaskOutcome): Promise<boolean> {
    const row = this.st.get.get(id);
    if (row === undefined) return false;
    const tenant = rowSchema.parse(row).tenant_id;
    const sealed = await sealOutcome(this.vault, tenant, id, outcome);
    const failures = await sealFailures(this.vault, tenant, id, outcome.failures);
    return this.st.finish.run({ id, to: outcome.state, ...sealed, failures, now: this.clock.now() }).changes === 1;
  }

  private async sealedFailures(id: string, failures: readonly TaskFailure[] | undefined): Promise<string | null> {
    if (failures === undefined || failures.length === 0) return null;
    const row = this.st.get.get(id);
    return row === undefined ? null : sealFailures(this.vault, rowSchema.parse(row).tenant_id, id, failures);
  }

  async expire(now: number, limit: number): Promise<ExpiredTask[]> {
    return this.st.expire.all({ now, limit, error: EXPIRED_ERROR }).map((raw) => {
      const r = expiredSchema.parse(raw);
      return { id: r.id, agent: r.agent, answeredBy: r.answered_by };
    });
  }

  async purge(before: number, limit: number): Promise<number> {
    return this.st.purge.run({ before, limit }).changes;
  }
}

/** A stored row as an AgentTask, its result unsealed; shared by every implementation. */
export async function openTask(vault: Vault, r: Row): Promise<AgentTask> {
  const result =
    r.result === null
      ? undefined
      : await vault.decrypting(() => JSON.parse(vault.decryptString({ tenant: r.tenant_id, kind: RESULT_KIND, id: r.id }, r.result!)) as unknown);
  // The expiry sweep's fixed words, and rows written before errors were sealed, are plain.
  const error =
    r.error === null || !Vault.isSealed(r.error)
      ? r.error
      : await vault.decrypting(() => vault.decryptString({ tenant: r.tenant_id, kind: ERROR_KIND, id: r.id }, r.error!));
  // Rows written before failures were kept have none.
  const failures =
    r.failures === null
      ? []
      : await vault.decrypting(() =>
          failuresSchema.parse(JSON.parse(vault.decryptString({ tenant: r.tenant_id, kind: FAILURES_KIND, id: r.id }, r.failures!))),
        );
  return {
    id: r.id,
    owner: { tenant: r.tenant_id, user: r.user_id },
    agent: r.agent,
    answeredBy: r.answered_by,
    remoteTaskId: r.remote_task_id,
    state: r.state,
    result,
    error,
    failures,
    ownerProcess: r.owner_process,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
  };
}

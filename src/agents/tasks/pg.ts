import { z } from 'zod';
import type { Clock } from '../../clock.js';
import type { Queryable } from '../../store/pg/pool.js';
import { isPgText } from '../../store/pg/text.js';
import type { Vault } from '../../vault/vault.js';
import { COLUMNS, expiredSchema, openTask, rowSchema, sealFailures, sealOutcome } from './sqlite.js';
import {
  EXPIRED_ERROR,
  type AgentTask,
  type AgentTaskStore,
  type ExpiredTask,
  type NewAgentTask,
  type TaskOutcome,
  type TaskOwner,
  type TaskTaker,
} from './types.js';

const tenantOf = z.object({ tenant_id: z.string() });
const UNFINISHED = `state IN ('submitted', 'running')`;

/**
 * Agent tasks on PostgreSQL. A platform's callback may land on any replica, and the expiry sweep
 * runs on all of them: every transition is one guarded UPDATE naming the states it leaves, so one
 * outcome wins; the sweep takes its rows with SKIP LOCKED, so two sweeps end disjoint sets. The
 * output is sealed as on SQLite, before the write (only the tenant is read first).
 */
export class PgAgentTasks implements AgentTaskStore {
  constructor(
    private readonly db: Queryable,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  async create(t: NewAgentTask): Promise<AgentTask> {
    const now = this.clock.now();
    const row = await this.db.one(
      `INSERT INTO agent_tasks (id, tenant_id, user_id, agent, state, owner_process, created_at, updated_at, expires_at)
       VALUES ($1, $2, $3, $4, 'submitted', $5, $6, $6, $7) RETURNING ${COLUMNS}`,
      [t.id, t.owner.tenant, t.owner.user, t.agent, t.ownerProcess, now, t.expiresAt],
      (r) => rowSchema.parse(r),
    );
    return openTask(this.vault, row);
  }

  async get(id: string, owner?: TaskOwner): Promise<AgentTask | undefined> {
    // A task id a client names with a NUL in it names no task (store/pg/text.ts), as on SQLite.
    if (!isPgText(id)) return undefined;
    const r = await this.db.maybeOne(`SELECT ${COLUMNS} FROM agent_tasks WHERE id = $1`, [id], (row) => rowSchema.parse(row));
    if (r === undefined) return undefined;
    if (owner !== undefined && (r.tenant_id !== owner.tenant || r.user_id !== owner.user)) return undefined;
    return openTask(this.vault, r);
  }

  async trying(id: string, agent: string): Promise<boolean> {
    // Only before any platform took it: after, answered_by is the taker and stays so.
    const changed = await this.db.exec(
      `UPDATE agent_tasks SET answered_by = $2, updated_at = $3 WHERE id = $1 AND state = 'submitted' AND remote_task_id IS NULL`,
      [id, agent, this.clock.now()],
    );
    return changed === 1;
  }

  async accepted(id: string, by: TaskTaker): Promise<boolean> {
    const failures = by.failures?.length ? await this.sealedFailures(id, by.failures) : null;
    // Bound once: the first verified callback or the submission's answer, whichever comes first.
    const changed = await this.db.exec(
      `UPDATE agent_tasks SET remote_task_id = $2, answered_by = coalesce($3, answered_by), failures = coalesce($5, failures),
         state = CASE state WHEN 'submitted' THEN 'running' ELSE state END, updated_at = $4
       WHERE id = $1 AND (remote_task_id IS NULL OR remote_task_id = $2)`,
      [id, by.remoteTaskId, by.answeredBy ?? null, this.clock.now(), failures],
    );
    return changed === 1;
  }

  private async sealedFailures(id: string, failures: TaskTaker['failures']): Promise<string | null> {
    const row = await this.db.maybeOne('SELECT tenant_id FROM agent_tasks WHERE id = $1', [id], (r) => tenantOf.parse(r));
    return row === undefined ? null : sealFailures(this.vault, row.tenant_id, id, failures);
  }

  async finish(id: string, outcome: TaskOutcome): Promise<boolean> {
    const row = await this.db.maybeOne('SELECT tenant_id FROM agent_tasks WHERE id = $1', [id], (r) => tenantOf.parse(r));
    if (row === undefined) return false;
    const { result, error } = await sealOutcome(this.vault, row.tenant_id, id, outcome);
    const failures = await sealFailures(this.vault, row.tenant_id, id, outcome.failures);
    const changed = await this.db.exec(
      `UPDATE agent_tasks SET state = $2, result = $3, error = $4, failures = coalesce($6, failures), updated_at = $5 WHERE id = $1 AND ${UNFINISHED}`,
      [id, outcome.state, result, error, this.clock.now(), failures],
    );
    return changed === 1;
  }

  async expire(now: number, limit: number): Promise<ExpiredTask[]> {
    // SKIP LOCKED: a sweep on another replica, or a finish in flight, keeps its rows; the outer
    // guard is re-checked on the row as committed, so a callback that won keeps its outcome.
    const rows = await this.db.query(
      `UPDATE agent_tasks SET state = 'timed_out', error = $3, updated_at = $1
       WHERE id IN (SELECT id FROM agent_tasks WHERE ${UNFINISHED} AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         AND ${UNFINISHED}
       RETURNING id, agent, answered_by`,
      [now, limit, EXPIRED_ERROR],
      (r) => expiredSchema.parse(r),
    );
    return rows.map((r) => ({ id: r.id, agent: r.agent, answeredBy: r.answered_by }));
  }

  async purge(before: number, limit: number): Promise<number> {
    // Final states only: an unfinished task is kept until it expires and is timed_out first.
    return this.db.exec(
      `DELETE FROM agent_tasks WHERE id IN (SELECT id FROM agent_tasks
         WHERE state IN ('completed', 'failed', 'cancelled', 'timed_out') AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
  }
}

import type { Queryable } from '../../store/pg/pool.js';
import { isPgText } from '../../store/pg/text.js';
import { COLUMNS, rowSchema, stateColumns, toRecord } from './sqlite.js';
import type { TaskOwner, TaskRecord, TaskRepository, TaskUpdate } from './types.js';

const parse = (row: unknown): TaskRecord => toRecord(rowSchema.parse(row));

/**
 * MCP task records on PostgreSQL. `tasks/get` and `tasks/cancel` may reach another replica than
 * the one running the task: the move out of an unfinished status is one guarded UPDATE, so a
 * cancel and a finishing run on two replicas cannot overwrite each other (SEP-2663).
 */
export class PgTasks implements TaskRepository {
  constructor(private readonly db: Queryable) {}

  async create(r: TaskRecord): Promise<void> {
    const s = stateColumns(r);
    await this.db.exec(`INSERT INTO mcp_tasks (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, [
      r.id,
      r.owner.tenant,
      r.owner.user,
      r.backing.kind,
      r.backing.id,
      r.tool,
      s.status,
      s.status_message,
      s.result,
      s.error,
      s.input_requests,
      r.ttlMs,
      r.expiresAt,
      r.createdAt,
      r.updatedAt,
    ]);
  }

  async get(id: string, owner: TaskOwner, now: number): Promise<TaskRecord | undefined> {
    // A client's task id with a NUL in it names no task (text.ts), as on SQLite.
    if (!isPgText(id)) return undefined;
    // Owner and expiry in the WHERE clause: someone else's task and an expired one read alike, as nothing.
    return this.db.maybeOne(
      `SELECT ${COLUMNS} FROM mcp_tasks WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND expires_at > $4`,
      [id, owner.tenant, owner.user, now],
      parse,
    );
  }

  async update(id: string, update: TaskUpdate, now: number): Promise<boolean> {
    if (!isPgText(id)) return false;
    const s = stateColumns(update);
    const changed = await this.db.exec(
      `UPDATE mcp_tasks SET status = $2, status_message = $3, result = $4, error = $5, input_requests = $6, updated_at = $7
       WHERE id = $1 AND status IN ('working', 'input_required') AND expires_at > $7`,
      [id, s.status, s.status_message, s.result, s.error, s.input_requests, now],
    );
    return changed === 1;
  }

  async purgeExpired(now: number): Promise<number> {
    return this.db.exec('DELETE FROM mcp_tasks WHERE expires_at <= $1', [now]);
  }

  async list(owner: TaskOwner, now: number, opts: { after?: string; limit: number }): Promise<TaskRecord[]> {
    // A cursor naming no task of the owner's lists nothing, as on SQLite.
    if (opts.after !== undefined && !isPgText(opts.after)) return [];
    // Keyset pagination on (created_at, id), ids compared byte-wise (COLLATE "C") as SQLite does,
    // whatever the database's locale. The cursor's task is looked up among the owner's own.
    return this.db.query(
      `SELECT ${COLUMNS} FROM mcp_tasks
       WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3
         AND ($4::text IS NULL OR (created_at, id COLLATE "C") >
           (SELECT created_at, id COLLATE "C" FROM mcp_tasks WHERE id = $4::text AND tenant_id = $1 AND user_id = $2))
       ORDER BY created_at, id COLLATE "C" LIMIT $5`,
      [owner.tenant, owner.user, now, opts.after ?? null, opts.limit],
      parse,
    );
  }
}

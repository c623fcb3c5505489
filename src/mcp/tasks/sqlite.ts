import { z } from 'zod';
import type { Db } from '../../store/db.js';
import { TASK_STATUSES, type TaskOwner, type TaskRecord, type TaskRepository, type TaskUpdate } from './types.js';

export const rowSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  backing_kind: z.enum(['local', 'agent_task', 'outbox_job', 'downstream']),
  backing_id: z.string(),
  tool: z.string(),
  status: z.enum(TASK_STATUSES),
  status_message: z.string().nullable(),
  result: z.string().nullable(),
  error: z.string().nullable(),
  input_requests: z.string().nullable(),
  ttl_ms: z.number(),
  expires_at: z.number(),
  created_at: z.number(),
  updated_at: z.number(),
});

const jsonObject = z.record(z.string(), z.unknown());
const errorSchema = z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() });

export const COLUMNS =
  'id, tenant_id, user_id, backing_kind, backing_id, tool, status, status_message, result, error, input_requests, ttl_ms, expires_at, created_at, updated_at';

/** Task records in the hub's SQLite store (migration 14). */
export class SqliteTasks implements TaskRepository {
  private readonly insert;
  private readonly select;
  private readonly move;
  private readonly purge;
  private readonly page;

  constructor(db: Db) {
    this.insert = db.prepare(
      `INSERT INTO mcp_tasks (${COLUMNS}) VALUES (@id, @tenant_id, @user_id, @backing_kind, @backing_id, @tool, @status, @status_message,
        @result, @error, @input_requests, @ttl_ms, @expires_at, @created_at, @updated_at)`,
    );
    // Owner and expiry in the WHERE clause: someone else's task and an expired one read alike, as nothing.
    this.select = db.prepare(`SELECT ${COLUMNS} FROM mcp_tasks WHERE id = ? AND tenant_id = ? AND user_id = ? AND expires_at > ?`);
    // Only an unfinished task moves (SEP-2663: a terminal status is final), so a cancel and a
    // finishing run cannot overwrite each other: whichever lands first wins.
    this.move = db.prepare(
      `UPDATE mcp_tasks SET status = @status, status_message = @status_message, result = @result, error = @error,
        input_requests = @input_requests, updated_at = @now
       WHERE id = @id AND status IN ('working', 'input_required') AND expires_at > @now`,
    );
    this.purge = db.prepare('DELETE FROM mcp_tasks WHERE expires_at <= ?');
    // Keyset pagination on (created_at, id): a page boundary stays put while tasks come and go. The
    // cursor's task is looked up among the owner's own, so another user's id reveals nothing.
    this.page = db.prepare(
      `SELECT ${COLUMNS} FROM mcp_tasks
       WHERE tenant_id = @tenant AND user_id = @user AND expires_at > @now
         AND (@after IS NULL OR (created_at, id) > (SELECT created_at, id FROM mcp_tasks WHERE id = @after AND tenant_id = @tenant AND user_id = @user))
       ORDER BY created_at, id LIMIT @limit`,
    );
  }

  async create(r: TaskRecord): Promise<void> {
    this.insert.run({
      id: r.id,
      tenant_id: r.owner.tenant,
      user_id: r.owner.user,
      backing_kind: r.backing.kind,
      backing_id: r.backing.id,
      tool: r.tool,
      ttl_ms: r.ttlMs,
      expires_at: r.expiresAt,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      ...stateColumns(r),
    });
  }

  async get(id: string, owner: TaskOwner, now: number): Promise<TaskRecord | undefined> {
    const row: unknown = this.select.get(id, owner.tenant, owner.user, now);
    return row === undefined ? undefined : toRecord(rowSchema.parse(row));
  }

  async update(id: string, update: TaskUpdate, now: number): Promise<boolean> {
    return this.move.run({ id, now, ...stateColumns(update) }).changes === 1;
  }

  async purgeExpired(now: number): Promise<number> {
    return this.purge.run(now).changes;
  }

  async list(owner: TaskOwner, now: number, opts: { after?: string; limit: number }): Promise<TaskRecord[]> {
    const rows: unknown[] = this.page.all({ tenant: owner.tenant, user: owner.user, now, after: opts.after ?? null, limit: opts.limit });
    return rows.map((row) => toRecord(rowSchema.parse(row)));
  }
}

export function stateColumns(s: TaskUpdate) {
  return {
    status: s.status,
    status_message: s.statusMessage ?? null,
    result: s.result === undefined ? null : JSON.stringify(s.result),
    error: s.error === undefined ? null : JSON.stringify(s.error),
    input_requests: s.inputRequests === undefined ? null : JSON.stringify(s.inputRequests),
  };
}

export function toRecord(row: z.infer<typeof rowSchema>): TaskRecord {
  const record: TaskRecord = {
    id: row.id,
    owner: { tenant: row.tenant_id, user: row.user_id },
    backing: { kind: row.backing_kind, id: row.backing_id },
    tool: row.tool,
    status: row.status,
    ttlMs: row.ttl_ms,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.status_message !== null) record.statusMessage = row.status_message;
  if (row.result !== null) record.result = jsonObject.parse(JSON.parse(row.result));
  if (row.error !== null) record.error = stripUndefined(errorSchema.parse(JSON.parse(row.error)));
  if (row.input_requests !== null) record.inputRequests = jsonObject.parse(JSON.parse(row.input_requests));
  return record;
}

function stripUndefined(e: z.infer<typeof errorSchema>): TaskRecord['error'] {
  return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
}

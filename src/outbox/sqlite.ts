import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import { cutText } from '../providers/cut-text.js';
import type { Db } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import { GroupCommit } from './group-commit.js';
import { argsHash, canonicalJson, newIdempotencyKey, newJobId } from './hash.js';
import { recoverAbandoned, type RecoveryStatement } from './recover.js';
import {
  isRetried,
  JOB_STATES,
  jobInputSchema,
  jobResultSchema,
  type CancelResult,
  type ClaimOptions,
  type ClaimResult,
  type EnqueueResult,
  type FailOptions,
  type FinalState,
  type Job,
  type JobInput,
  type JobOwner,
  type JobResult,
  type JobState,
  type ListFilter,
  type OpenJob,
  type Outbox,
  type RetryResult,
} from './types.js';

export const rowSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  connection_id: z.string(),
  integration: z.string(),
  tool: z.string(),
  idempotency_key: z.string(),
  key_from_caller: z.number(),
  args_hash: z.string(),
  args: z.string(),
  sensitive: z.number(),
  replay_safe: z.number(),
  ordering_key: z.string().nullable(),
  state: z.enum(JOB_STATES),
  attempts: z.number(),
  paced: z.number(),
  next_attempt_at: z.number(),
  lease_owner: z.string().nullable(),
  lease_until: z.number().nullable(),
  result: z.string().nullable(),
  last_error: z.string().nullable(),
  last_error_code: z.string().nullable(),
  site_digest: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type Row = z.infer<typeof rowSchema>;
const sealingSchema = z.object({ tenant_id: z.string(), sensitive: z.number() });
const argsSchema = z.record(z.string(), z.unknown());

export const COLUMNS = `id, tenant_id, user_id, connection_id, integration, tool, idempotency_key, key_from_caller, args_hash, args,
  sensitive, replay_safe, ordering_key, state, attempts, paced, next_attempt_at, lease_owner, lease_until, result, last_error, last_error_code, site_digest,
  created_at, updated_at`;

/** The provider's answer is kept for the caller, not as an archive: a write's answer is small. */
export const MAX_RESULT_BODY_CHARS = 64 * 1024;
const MAX_ERROR_CHARS = 1000;

export function jobOf(r: Row): Job {
  return {
    id: r.id,
    tenant: r.tenant_id,
    user: r.user_id,
    connectionId: r.connection_id,
    integration: r.integration,
    tool: r.tool,
    idempotencyKey: r.idempotency_key,
    keyFromCaller: r.key_from_caller === 1,
    argsHash: r.args_hash,
    orderingKey: r.ordering_key,
    sensitive: r.sensitive === 1,
    replaySafe: r.replay_safe === 1,
    state: r.state,
    attempts: r.attempts,
    paced: r.paced,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    lastErrorCode: r.last_error_code,
    siteDigest: r.site_digest,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** What a job just queued has for its life fields: queued at `now`, nothing sent, nothing failed. */
export function queuedLife(now: number) {
  return { state: 'queued', attempts: 0, paced: 0, nextAttemptAt: now, lastError: null, lastErrorCode: null, createdAt: now, updatedAt: now } as const;
}

export function boundResult(result: JobResult): JobResult {
  if (result.body.length <= MAX_RESULT_BODY_CHARS) return jobResultSchema.parse(result);
  return { status: result.status, body: cutText(result.body, MAX_RESULT_BODY_CHARS), truncated: true, wholeChars: result.body.length };
}

/** The outbox's statements, prepared once per store. */
function prepare(db: Db) {
  const sel = `SELECT ${COLUMNS} FROM outbox_jobs`;
  const named = <K extends string>(st: Record<K, Statement>): Record<K, Statement> => st;
  return named({
    insert: db.prepare(`INSERT INTO outbox_jobs (id, tenant_id, user_id, connection_id, integration, tool, idempotency_key, key_from_caller,
        args_hash, args, sensitive, replay_safe, ordering_key, site_digest, next_attempt_at, created_at, updated_at)
      VALUES (@id, @tenant, @user, @connectionId, @integration, @tool, @key, @fromCaller, @hash, @args, @sensitive, @replaySafe,
        @orderingKey, @siteDigest, @now, @now, @now)
      ON CONFLICT (tenant_id, user_id, integration, tool, idempotency_key) DO NOTHING`),
    byKey: db.prepare(`${sel} WHERE tenant_id = @tenant AND user_id = @user AND integration = @integration AND tool = @tool
      AND idempotency_key = @key`),
    byId: db.prepare(`${sel} WHERE id = ?`),
    orderHeld: db.prepare(`SELECT 1 FROM outbox_jobs WHERE connection_id = @connectionId AND ordering_key = @key
      AND state IN ('queued', 'sending') LIMIT 1`),
    sealing: db.prepare('SELECT tenant_id, sensitive FROM outbox_jobs WHERE id = ?'),
    byOwner: db.prepare(`${sel} WHERE id = @id AND tenant_id = @tenant AND user_id = @user`),
    // FIFO per (connection, ordering key): a job waits while an earlier one of its order is unfinished.
    // Connections in turn: a job's turn is its place among its connection's due jobs, counted after
    // the jobs that connection already holds (leased by any worker: waiting for a token, or sent).
    // By seq alone, one user's 40 queued writes would fill every free slot before another's first.
    due: db.prepare(`WITH held AS (SELECT connection_id, count(*) AS n FROM outbox_jobs
        WHERE state IN ('queued', 'sending') AND lease_until > @now GROUP BY connection_id)
      SELECT ${COLUMNS} FROM (SELECT j.*, coalesce(h.n, 0) + row_number() OVER (PARTITION BY j.connection_id ORDER BY j.next_attempt_at, j.seq) AS turn
        FROM outbox_jobs j LEFT JOIN held h ON h.connection_id = j.connection_id
        WHERE j.state = 'queued' AND j.next_attempt_at <= @now AND (j.lease_until IS NULL OR j.lease_until <= @now)
        AND (j.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox_jobs e WHERE e.connection_id = j.connection_id
          AND e.ordering_key = j.ordering_key AND e.seq < j.seq AND e.state IN ('queued', 'sending'))))
      ORDER BY turn, next_attempt_at, seq LIMIT @limit`),
    held: db.prepare(`SELECT id, state, lease_owner FROM outbox_jobs WHERE state IN ('queued', 'sending') AND lease_until > @now
      ORDER BY lease_until LIMIT @limit`),
    expired: db.prepare(`${sel} WHERE state = 'sending' AND lease_until <= @now ORDER BY lease_until LIMIT @limit`),
    claim: db.prepare(`UPDATE outbox_jobs SET lease_owner = @owner, lease_until = @until, updated_at = @now
      WHERE id = @id AND state = 'queued' AND (lease_until IS NULL OR lease_until <= @now)`),
    release: db.prepare(`UPDATE outbox_jobs SET lease_owner = NULL, lease_until = NULL, next_attempt_at = @retryAt, updated_at = @now
      WHERE id = @id AND state = 'queued' AND lease_owner = @owner`),
    endLease: db.prepare(`UPDATE outbox_jobs SET lease_until = @now WHERE id = @id AND state IN ('queued', 'sending') AND lease_owner = @owner`),
    abandon: db.prepare(`UPDATE outbox_jobs SET state = @to, lease_owner = NULL, lease_until = NULL, next_attempt_at = @now,
        last_error = @error, last_error_code = NULL, updated_at = @now
      WHERE id = @id AND state = 'sending' AND lease_until <= @now`),
    renew: db.prepare(`UPDATE outbox_jobs SET lease_until = @until WHERE id = @id AND state = 'sending' AND lease_owner = @owner`),
    markSent: db.prepare(`UPDATE outbox_jobs SET state = 'sending', attempts = attempts + 1, lease_until = @until, updated_at = @now
      WHERE id = @id AND state = 'queued' AND lease_owner = @owner`),
    complete: db.prepare(`UPDATE outbox_jobs SET state = 'done', result = @result, lease_owner = NULL, lease_until = NULL,
        last_error = NULL, last_error_code = NULL, updated_at = @now
      WHERE id = @id AND state = 'sending' AND lease_owner = @owner`),
    fail: db.prepare(`UPDATE outbox_jobs SET state = @to, next_attempt_at = @retryAt, result = @result, paced = paced + @paced, lease_owner = NULL,
        lease_until = NULL, last_error = @error, last_error_code = @code, updated_at = @now
      WHERE id = @id AND state = 'sending' AND lease_owner = @owner`),
    unconfirmed: db.prepare(`UPDATE outbox_jobs SET state = 'sent_unconfirmed', lease_owner = NULL, lease_until = NULL,
        last_error = @error, last_error_code = NULL, updated_at = @now
      WHERE id = @id AND state = 'sending' AND lease_owner = @owner`),
    cancel: db.prepare(`UPDATE outbox_jobs SET state = 'cancelled', lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND state = 'queued'`),
    retry: db.prepare(`UPDATE outbox_jobs SET state = 'queued', attempts = 0, paced = 0, next_attempt_at = @now, last_error = NULL, last_error_code = NULL,
        lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND state = @from`),
    active: db.prepare(`SELECT 1 FROM outbox_jobs WHERE state IN ('queued', 'sending') LIMIT 1`),
    purge: db.prepare(`DELETE FROM outbox_jobs WHERE id IN
      (SELECT id FROM outbox_jobs WHERE state = @state AND updated_at < @before LIMIT @limit)`),
  }) satisfies Record<RecoveryStatement, Statement>;
}

/**
 * The outbox on SQLite. better-sqlite3 answers synchronously; callers await anyway (STYLE.md §10).
 * `now` comes from the injected clock and goes into SQL as a parameter. The vault is needed only
 * for sensitive jobs (the CLI, which never opens arguments, runs without one).
 * Every write is group-committed (./group-commit.ts): each keeps its own guard in SQL, and is
 * answered once committed, so `sending` is still durable before a request leaves.
 */
export class SqliteOutbox implements Outbox {
  private readonly st: ReturnType<typeof prepare>;
  private readonly group: GroupCommit;

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly vault?: Vault,
  ) {
    this.st = prepare(db);
    this.group = new GroupCommit(db);
  }

  async enqueue(input: JobInput): Promise<EnqueueResult> {
    const parsed = jobInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HubError('invalid_params', `an outbound job is malformed: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    // The data key is made (or loaded) first: nothing can be awaited inside the transaction.
    if (parsed.data.sensitive) await this.needVault().ensureDataKey(parsed.data.tenant);
    return this.group.run(() => this.enqueueIn(parsed.data));
  }

  private enqueueIn(j: z.output<typeof jobInputSchema>): EnqueueResult {
    const now = this.clock.now();
    const id = newJobId(now);
    const key = j.idempotencyKey ?? newIdempotencyKey();
    const hash = argsHash(j.arguments);
    const json = canonicalJson(j.arguments);
    const args = j.sensitive ? this.needVault().encrypt({ tenant: j.tenant, kind: 'outbox_args', id }, json) : json;
    const before = j.unkeyedOrderingKey;
    const params = { ...j, id, key, hash, args, now, fromCaller: j.idempotencyKey === undefined ? 0 : 1 };
    const held = before !== undefined && this.st.orderHeld.get({ connectionId: j.connectionId, key: before }) !== undefined;
    const orderingKey = held ? before : (j.orderingKey ?? null);
    const siteDigest = j.siteDigest ?? null;
    const inserted = this.st.insert.run({ ...params, sensitive: j.sensitive ? 1 : 0, replaySafe: j.replaySafe ? 1 : 0, orderingKey, siteDigest });
    if (inserted.changes === 1) {
      // The row just written, built rather than read back and parsed (a read per call).
      const { tenant, user, connectionId, integration, tool, sensitive, replaySafe } = j;
      const keyFromCaller = j.idempotencyKey !== undefined;
      const fields = { idempotencyKey: key, keyFromCaller, argsHash: hash, orderingKey, sensitive, replaySafe, siteDigest };
      const life = queuedLife(now);
      return { outcome: 'queued', job: { id, tenant, user, connectionId, integration, tool, ...fields, ...life } };
    }
    const row = rowSchema.parse(this.st.byKey.get(params));
    if (row.args_hash !== hash) {
      throw new HubError(
        'idempotency_conflict',
        `the idempotency key "${key}" was used for another ${j.integration} ${j.tool} call with other arguments (job ${row.id}); use a new key for a new write`,
        { details: { jobId: row.id } },
      );
    }
    return { outcome: 'existing', job: jobOf(row) };
  }

  async get(id: string, owner: JobOwner): Promise<OpenJob | undefined> {
    const row = this.st.byOwner.get({ id, tenant: owner.tenant, user: owner.user });
    return row === undefined ? undefined : this.open(rowSchema.parse(row));
  }

  async find(id: string): Promise<Job | undefined> {
    const row = this.st.byId.get(id);
    return row === undefined ? undefined : jobOf(rowSchema.parse(row));
  }

  async cancel(id: string, owner: JobOwner): Promise<CancelResult> {
    return this.group.run(() => this.cancelIn(id, owner));
  }

  private cancelIn(id: string, owner: JobOwner): CancelResult {
    const raw = this.st.byOwner.get({ id, tenant: owner.tenant, user: owner.user });
    if (raw === undefined) return { outcome: 'not_found' };
    const row = rowSchema.parse(raw);
    if (row.state !== 'queued') return { outcome: 'busy', state: row.state };
    const now = this.clock.now();
    this.st.cancel.run({ id, now });
    return { outcome: 'cancelled', job: { ...jobOf(row), state: 'cancelled', updatedAt: now } };
  }

  async claim(o: ClaimOptions): Promise<ClaimResult> {
    // A read first (WAL: it waits for no writer): an idle worker then never takes the write lock,
    // so another process holding it does not stall this one's event loop for busy_timeout each tick.
    if (this.st.active.get() === undefined) return { jobs: [], settled: [] };
    const { rows, settled } = await this.group.run(() => this.claimIn(o));
    const jobs: OpenJob[] = [];
    for (const r of rows) jobs.push(await this.open(r));
    return { jobs, settled };
  }

  private claimIn(o: ClaimOptions): { rows: Row[]; settled: Job[] } {
    const now = this.clock.now();
    const settled = recoverAbandoned(this.st, now, o).map((r) => jobOf(rowSchema.parse(r)));
    const rows: Row[] = [];
    for (const raw of this.st.due.all({ now, limit: o.limit })) {
      const r = rowSchema.parse(raw);
      if (this.st.claim.run({ id: r.id, owner: o.owner, until: now + o.leaseMs, now }).changes === 1)
        rows.push({ ...r, lease_owner: o.owner, lease_until: now + o.leaseMs });
    }
    return { rows, settled };
  }

  markSent(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.group.run(() => {
      const now = this.clock.now();
      return this.st.markSent.run({ id, owner, until: now + leaseMs, now }).changes === 1;
    });
  }

  renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.group.run(() => this.st.renew.run({ id, owner, until: this.clock.now() + leaseMs }).changes === 1);
  }

  release(id: string, owner: string, retryAt: number): Promise<boolean> {
    return this.group.run(() => this.st.release.run({ id, owner, retryAt, now: this.clock.now() }).changes === 1);
  }

  async complete(id: string, owner: string, result: JobResult): Promise<boolean> {
    const sealed = await this.sealResult(id, result);
    return this.group.run(() => this.st.complete.run({ id, owner, result: sealed, now: this.clock.now() }).changes === 1);
  }

  async fail(id: string, owner: string, o: FailOptions): Promise<JobState | false> {
    const to: JobState = o.retryAt !== 'never' ? 'queued' : o.exhausted ? 'dead' : 'failed';
    const result = o.result === undefined ? null : await this.sealResult(id, o.result);
    return this.group.run(() => {
      const now = this.clock.now();
      const retryAt = o.retryAt === 'never' ? now : o.retryAt;
      const r = this.st.fail.run({
        id,
        owner,
        to,
        retryAt,
        result,
        paced: o.paced ? 1 : 0,
        error: cutText(o.error, MAX_ERROR_CHARS),
        code: o.code ?? null,
        now,
      });
      return r.changes === 1 ? to : false;
    });
  }

  unconfirmed(id: string, owner: string, error: string): Promise<boolean> {
    return this.group.run(() => this.st.unconfirmed.run({ id, owner, error: cutText(error, MAX_ERROR_CHARS), now: this.clock.now() }).changes === 1);
  }

  async list(filter: ListFilter = {}): Promise<Job[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: filter.limit ?? 100 };
    for (const [k, column] of [
      ['state', 'state'],
      ['integration', 'integration'],
      ['tenant', 'tenant_id'],
      ['user', 'user_id'],
    ] as const) {
      const v = filter[k];
      if (v === undefined) continue;
      where.push(`${column} = @${k}`);
      params[k] = v;
    }
    const sql = `SELECT ${COLUMNS} FROM outbox_jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    return this.st.byId.database
      .prepare(sql)
      .all(params)
      .map((r) => jobOf(rowSchema.parse(r)));
  }

  async retry(id: string): Promise<RetryResult> {
    return this.group.run(() => this.retryIn(id));
  }

  private retryIn(id: string): RetryResult {
    const raw = this.st.byId.get(id);
    if (raw === undefined) return { outcome: 'not_found' };
    const { state } = rowSchema.parse(raw);
    if (!isRetried(state)) return { outcome: 'busy', state };
    const r = this.st.retry.run({ id, from: state, now: this.clock.now() });
    return r.changes === 1 ? { outcome: 'retried', from: state } : { outcome: 'busy', state };
  }

  async purge(state: FinalState, before: number, limit = 10_000): Promise<number> {
    return this.st.purge.run({ state, before, limit }).changes;
  }

  private needVault(): Vault {
    if (this.vault === undefined) throw new HubError('internal', 'this outbox was opened without the vault: it cannot seal or open a sensitive job');
    return this.vault;
  }

  private async sealResult(id: string, result: JobResult): Promise<string> {
    const json = JSON.stringify(boundResult(result));
    const row = this.st.sealing.get(id);
    if (row === undefined) return json;
    const { tenant_id: tenant, sensitive } = sealingSchema.parse(row);
    if (sensitive === 0) return json;
    await this.needVault().ensureDataKey(tenant);
    return this.needVault().encrypt({ tenant, kind: 'outbox_result', id }, json);
  }

  /** Unseals a sensitive job's arguments and answer; a data key another process made is read on demand. */
  private async open(r: Row): Promise<OpenJob> {
    const job = jobOf(r);
    if (r.sensitive === 0)
      return { ...job, arguments: argsSchema.parse(JSON.parse(r.args)), result: r.result === null ? null : jobResultSchema.parse(JSON.parse(r.result)) };
    const vault = this.needVault();
    return vault.decrypting(() => {
      const args: unknown = JSON.parse(vault.decryptString({ tenant: r.tenant_id, kind: 'outbox_args', id: r.id }, r.args));
      const result =
        r.result === null ? null : jobResultSchema.parse(JSON.parse(vault.decryptString({ tenant: r.tenant_id, kind: 'outbox_result', id: r.id }, r.result)));
      return { ...job, arguments: argsSchema.parse(args), result };
    });
  }
}

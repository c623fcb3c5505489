import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import { cutText } from '../providers/cut-text.js';
import type { PgStore, Queryable, Row as PgRow } from '../store/pg/pool.js';
import type { Vault } from '../vault/vault.js';
import { argsHash, canonicalJson, newIdempotencyKey, newJobId } from './hash.js';
import { abandonedOutcome } from './recover.js';
import { boundResult, COLUMNS, jobOf, queuedLife, type Row, rowSchema } from './sqlite.js';
import {
  isRetried,
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
import { isPgText } from '../store/pg/text.js';
import { equalsWhere, OWNER_AND_STATE } from '../store/pg/where.js';

const MAX_ERROR_CHARS = 1000;
/** Where a caller gives its idempotency key (src/integrations/outbound.ts META_IDEMPOTENCY_KEY), for the refusal's words. */
const META_KEY = 'switchboard/idempotency-key';
const argsSchema = z.record(z.string(), z.unknown());
const sealingSchema = z.object({ tenant_id: z.string(), sensitive: z.number() });
const rowOf = (r: PgRow): Row => rowSchema.parse(r);
const withSeq = (r: PgRow): { seq: number; row: Row } => ({ seq: z.number().parse(r.seq), row: rowSchema.parse(r) });
/** A claimed row with its turn among the connections (a bigint, so text on the wire). */
const withTurn = (r: PgRow): { turn: number; seq: number; row: Row } => ({ turn: z.coerce.number().parse(r.turn), ...withSeq(r) });

/**
 * The outbox on PostgreSQL, for several replicas on one database. A caller's idempotency key is
 * the unique key outbox_jobs_key (`ON CONFLICT DO NOTHING`: the second replica's insert waits for
 * the first's commit, then reads its job); claims lock their rows with `FOR UPDATE SKIP LOCKED`;
 * every worker transition is one UPDATE guarded on state and lease owner. `now` is the injected
 * clock's, passed as a parameter, as on SQLite.
 *
 * No group commit (./group-commit.ts): SQLite batches a turn's writes because its commit is one
 * WAL write under one lock; here each operation is one statement or one transaction, and
 * concurrent ones commit in parallel. A write awaited is still a write committed, so `sending`
 * is durable before a request leaves.
 */
export class PgOutbox implements Outbox {
  constructor(
    private readonly store: PgStore,
    private readonly clock: Clock,
    private readonly vault?: Vault,
  ) {}

  async enqueue(input: JobInput): Promise<EnqueueResult> {
    const parsed = jobInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HubError('invalid_params', `an outbound job is malformed: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    const j = parsed.data;
    // PostgreSQL's text holds no NUL (store/pg/text.ts): the INSERT would fail as a retryable
    // store_failed, and a client retry the same key for ever. Refused as the caller's to fix.
    if (j.idempotencyKey !== undefined && !isPgText(j.idempotencyKey))
      throw new HubError(
        'invalid_params',
        `the idempotency key (_meta["${META_KEY}"]) holds a NUL character (U+0000), which this hub's PostgreSQL store cannot keep; use a key without one`,
      );
    const now = this.clock.now();
    const id = newJobId(now);
    const key = j.idempotencyKey ?? newIdempotencyKey();
    const hash = argsHash(j.arguments);
    const json = canonicalJson(j.arguments);
    // Sealed before the write, as on SQLite: a row never holds a sensitive job's arguments in clear.
    if (j.sensitive) await this.needVault().ensureDataKey(j.tenant);
    const args = j.sensitive ? this.needVault().encrypt({ tenant: j.tenant, kind: 'outbox_args', id }, json) : json;
    const fromCaller = j.idempotencyKey !== undefined;
    const siteDigest = j.siteDigest ?? null;
    for (let tries = 0; tries < 3; tries++) {
      // One statement: the unkeyed ordering key is kept while an unfinished job of the connection holds it.
      const inserted = await this.store.maybeOne(
        `INSERT INTO outbox_jobs (id, tenant_id, user_id, connection_id, integration, tool, idempotency_key, key_from_caller, args_hash, args,
           sensitive, replay_safe, ordering_key, site_digest, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
           CASE WHEN $14::text IS NOT NULL AND EXISTS (SELECT 1 FROM outbox_jobs WHERE connection_id = $4 AND ordering_key = $14
             AND state IN ('queued', 'sending')) THEN $14 ELSE $13::text END, $16, $15, $15, $15)
         ON CONFLICT (tenant_id, user_id, integration, tool, idempotency_key) DO NOTHING RETURNING ordering_key`,
        [
          id,
          j.tenant,
          j.user,
          j.connectionId,
          j.integration,
          j.tool,
          key,
          fromCaller ? 1 : 0,
          hash,
          args,
          j.sensitive ? 1 : 0,
          j.replaySafe ? 1 : 0,
          j.orderingKey ?? null,
          j.unkeyedOrderingKey ?? null,
          now,
          siteDigest,
        ],
        (r) => ({ orderingKey: z.string().nullable().parse(r.ordering_key) }),
      );
      if (inserted !== undefined) {
        const { tenant, user, connectionId, integration, tool, sensitive, replaySafe } = j;
        const fields = { idempotencyKey: key, keyFromCaller: fromCaller, argsHash: hash, orderingKey: inserted.orderingKey, sensitive, replaySafe, siteDigest };
        const life = queuedLife(now);
        return { outcome: 'queued', job: { id, tenant, user, connectionId, integration, tool, ...fields, ...life } };
      }
      const row = await this.store.maybeOne(
        `SELECT ${COLUMNS} FROM outbox_jobs WHERE tenant_id = $1 AND user_id = $2 AND integration = $3 AND tool = $4 AND idempotency_key = $5`,
        [j.tenant, j.user, j.integration, j.tool, key],
        rowOf,
      );
      // Purged between the two statements: the key is free again, so insert once more.
      if (row === undefined) continue;
      if (row.args_hash !== hash) {
        throw new HubError(
          'idempotency_conflict',
          `the idempotency key "${key}" was used for another ${j.integration} ${j.tool} call with other arguments (job ${row.id}); use a new key for a new write`,
          { details: { jobId: row.id } },
        );
      }
      return { outcome: 'existing', job: jobOf(row) };
    }
    throw new HubError('store_failed', `the outbox could neither queue nor find the job keyed "${key}"`);
  }

  async get(id: string, owner: JobOwner): Promise<OpenJob | undefined> {
    // A job id a client names with a NUL in it names no job (store/pg/text.ts), as on SQLite.
    if (!isPgText(id)) return undefined;
    const row = await this.store.maybeOne(
      `SELECT ${COLUMNS} FROM outbox_jobs WHERE id = $1 AND tenant_id = $2 AND user_id = $3`,
      [id, owner.tenant, owner.user],
      rowOf,
    );
    return row === undefined ? undefined : this.open(row);
  }

  async find(id: string): Promise<Job | undefined> {
    if (!isPgText(id)) return undefined;
    const row = await this.store.maybeOne(`SELECT ${COLUMNS} FROM outbox_jobs WHERE id = $1`, [id], rowOf);
    return row === undefined ? undefined : jobOf(row);
  }

  async cancel(id: string, owner: JobOwner): Promise<CancelResult> {
    if (!isPgText(id)) return { outcome: 'not_found' };
    return this.store.tx(async (q) => {
      // Locked: a worker's markSent waits for this decision, and then finds the job cancelled.
      const row = await q.maybeOne(
        `SELECT ${COLUMNS} FROM outbox_jobs WHERE id = $1 AND tenant_id = $2 AND user_id = $3 FOR UPDATE`,
        [id, owner.tenant, owner.user],
        rowOf,
      );
      if (row === undefined) return { outcome: 'not_found' };
      if (row.state !== 'queued') return { outcome: 'busy', state: row.state };
      const now = this.clock.now();
      await q.exec(`UPDATE outbox_jobs SET state = 'cancelled', lease_owner = NULL, lease_until = NULL, updated_at = $2 WHERE id = $1 AND state = 'queued'`, [
        id,
        now,
      ]);
      return { outcome: 'cancelled', job: { ...jobOf(row), state: 'cancelled', updatedAt: now } };
    });
  }

  async claim(o: ClaimOptions): Promise<ClaimResult> {
    // An idle worker asks once, outside a transaction: no BEGIN/COMMIT per tick on an empty queue.
    const active = await this.store.query(`SELECT 1 FROM outbox_jobs WHERE state IN ('queued', 'sending') LIMIT 1`);
    if (active.length === 0) return { jobs: [], settled: [] };
    const { rows, settled } = await this.store.tx((q) => this.claimIn(q, o));
    const jobs: OpenJob[] = [];
    for (const r of rows) jobs.push(await this.open(r));
    return { jobs, settled };
  }

  private async claimIn(q: Queryable, o: ClaimOptions): Promise<{ rows: Row[]; settled: Job[] }> {
    const now = this.clock.now();
    const settled = await this.recoverAbandoned(q, o, now);
    // FIFO per (connection, ordering key): a job waits while an earlier one of its order is unfinished
    // (leased by any replica or not, it is still queued or sending). Connections in turn, as on
    // SQLite (src/outbox/sqlite.ts `due`): a job's turn counts the jobs its connection already holds.
    // The turns are ranked in a subquery: PostgreSQL locks no rows of a query with window functions.
    const claimed = await q.query(
      `UPDATE outbox_jobs SET lease_owner = $3, lease_until = $4, updated_at = $1
       FROM (SELECT j.id AS pick, r.turn FROM outbox_jobs j JOIN (
               SELECT d.id, coalesce(h.n, 0) + row_number() OVER (PARTITION BY d.connection_id ORDER BY d.next_attempt_at, d.seq) AS turn
               FROM outbox_jobs d LEFT JOIN (SELECT connection_id, count(*) AS n FROM outbox_jobs
                 WHERE state IN ('queued', 'sending') AND lease_until > $1 GROUP BY connection_id) h ON h.connection_id = d.connection_id
               WHERE d.state = 'queued' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
                 AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox_jobs e WHERE e.connection_id = d.connection_id
                   AND e.ordering_key = d.ordering_key AND e.seq < d.seq AND e.state IN ('queued', 'sending')))) r ON r.id = j.id
             ORDER BY r.turn, j.next_attempt_at, j.seq LIMIT $2 FOR UPDATE OF j SKIP LOCKED) c
       WHERE id = c.pick AND state = 'queued' AND (lease_until IS NULL OR lease_until <= $1)
       RETURNING c.turn, seq, ${COLUMNS}`,
      [now, o.limit, o.owner, now + o.leaseMs],
      withTurn,
    );
    claimed.sort((a, b) => a.turn - b.turn || a.row.next_attempt_at - b.row.next_attempt_at || a.seq - b.seq);
    return { rows: claimed.map((c) => c.row), settled };
  }

  /**
   * recover.ts's recoverAbandoned on PostgreSQL: a dead holder's leases end now (guarded on that
   * holder); a `sending` job whose lease ended goes where abandonedOutcome says. The expired rows
   * are locked SKIP LOCKED, so two replicas never settle one job twice. Returns the rows it moved
   * to a final state (their waiters are told).
   */
  private async recoverAbandoned(q: Queryable, o: ClaimOptions, now: number): Promise<Job[]> {
    if (o.ownerIsDead) {
      const held = await q.query(
        `SELECT id, lease_owner FROM outbox_jobs WHERE state IN ('queued', 'sending') AND lease_until > $1 ORDER BY lease_until LIMIT $2`,
        [now, o.limit],
        (r) => ({ id: z.string().parse(r.id), owner: z.string().nullable().parse(r.lease_owner) }),
      );
      const verdicts = new Map<string, boolean>();
      const dead = held.filter((r): r is { id: string; owner: string } => {
        if (r.owner === null || r.owner === o.owner) return false;
        const v = verdicts.get(r.owner) ?? o.ownerIsDead!(r.owner);
        verdicts.set(r.owner, v);
        return v;
      });
      if (dead.length > 0)
        await q.exec(
          `UPDATE outbox_jobs j SET lease_until = $3 FROM unnest($1::text[], $2::text[]) AS d(id, owner)
           WHERE j.id = d.id AND j.state IN ('queued', 'sending') AND j.lease_owner = d.owner`,
          [dead.map((r) => r.id), dead.map((r) => r.owner), now],
        );
    }
    const expired = await q.query(
      `SELECT ${COLUMNS} FROM outbox_jobs WHERE state = 'sending' AND lease_until <= $1 ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, o.limit],
      rowOf,
    );
    const settled: Job[] = [];
    for (const r of expired) {
      const { to, error } = abandonedOutcome(r, o.maxAttempts);
      const moved = await q.maybeOne(
        `UPDATE outbox_jobs SET state = $2, lease_owner = NULL, lease_until = NULL, next_attempt_at = $3, last_error = $4, last_error_code = NULL, updated_at = $3
         WHERE id = $1 AND state = 'sending' AND lease_until <= $3 RETURNING ${COLUMNS}`,
        [r.id, to, now, error],
        rowOf,
      );
      if (moved !== undefined && to !== 'queued') settled.push(jobOf(moved));
    }
    return settled;
  }

  async markSent(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    const n = await this.store.exec(
      `UPDATE outbox_jobs SET state = 'sending', attempts = attempts + 1, lease_until = $3, updated_at = $4
       WHERE id = $1 AND state = 'queued' AND lease_owner = $2`,
      [id, owner, now + leaseMs, now],
    );
    return n === 1;
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const n = await this.store.exec(`UPDATE outbox_jobs SET lease_until = $3 WHERE id = $1 AND state = 'sending' AND lease_owner = $2`, [
      id,
      owner,
      this.clock.now() + leaseMs,
    ]);
    return n === 1;
  }

  async release(id: string, owner: string, retryAt: number): Promise<boolean> {
    const n = await this.store.exec(
      `UPDATE outbox_jobs SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $3, updated_at = $4
       WHERE id = $1 AND state = 'queued' AND lease_owner = $2`,
      [id, owner, retryAt, this.clock.now()],
    );
    return n === 1;
  }

  async complete(id: string, owner: string, result: JobResult): Promise<boolean> {
    const sealed = await this.sealResult(id, result);
    const n = await this.store.exec(
      `UPDATE outbox_jobs SET state = 'done', result = $3, lease_owner = NULL, lease_until = NULL, last_error = NULL, last_error_code = NULL, updated_at = $4
       WHERE id = $1 AND state = 'sending' AND lease_owner = $2`,
      [id, owner, sealed, this.clock.now()],
    );
    return n === 1;
  }

  async fail(id: string, owner: string, o: FailOptions): Promise<JobState | false> {
    const to: JobState = o.retryAt !== 'never' ? 'queued' : o.exhausted ? 'dead' : 'failed';
    const result = o.result === undefined ? null : await this.sealResult(id, o.result);
    const now = this.clock.now();
    const n = await this.store.exec(
      `UPDATE outbox_jobs SET state = $3, next_attempt_at = $4, result = $5, paced = paced + $6, lease_owner = NULL, lease_until = NULL,
         last_error = $7, last_error_code = $9, updated_at = $8
       WHERE id = $1 AND state = 'sending' AND lease_owner = $2`,
      [id, owner, to, o.retryAt === 'never' ? now : o.retryAt, result, o.paced ? 1 : 0, cutText(o.error, MAX_ERROR_CHARS), now, o.code ?? null],
    );
    return n === 1 ? to : false;
  }

  async unconfirmed(id: string, owner: string, error: string): Promise<boolean> {
    const n = await this.store.exec(
      `UPDATE outbox_jobs SET state = 'sent_unconfirmed', lease_owner = NULL, lease_until = NULL, last_error = $3, last_error_code = NULL, updated_at = $4
       WHERE id = $1 AND state = 'sending' AND lease_owner = $2`,
      [id, owner, cutText(error, MAX_ERROR_CHARS), this.clock.now()],
    );
    return n === 1;
  }

  async list(filter: ListFilter = {}): Promise<Job[]> {
    const params: unknown[] = [];
    const where = equalsWhere(filter, OWNER_AND_STATE, params);
    params.push(filter.limit ?? 100);
    const sql = `SELECT ${COLUMNS} FROM outbox_jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`;
    return (await this.store.query(sql, params, rowOf)).map(jobOf);
  }

  async retry(id: string): Promise<RetryResult> {
    return this.store.tx(async (q) => {
      const row = await q.maybeOne(`SELECT ${COLUMNS} FROM outbox_jobs WHERE id = $1 FOR UPDATE`, [id], rowOf);
      if (row === undefined) return { outcome: 'not_found' };
      const { state } = row;
      if (!isRetried(state)) return { outcome: 'busy', state };
      const n = await q.exec(
        `UPDATE outbox_jobs SET state = 'queued', attempts = 0, paced = 0, next_attempt_at = $3, last_error = NULL, last_error_code = NULL, lease_owner = NULL,
           lease_until = NULL, updated_at = $3
         WHERE id = $1 AND state = $2`,
        [id, state, this.clock.now()],
      );
      return n === 1 ? { outcome: 'retried', from: state } : { outcome: 'busy', state };
    });
  }

  async purge(state: FinalState, before: number, limit = 10_000): Promise<number> {
    return this.store.exec(`DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM outbox_jobs WHERE state = $1 AND updated_at < $2 LIMIT $3)`, [
      state,
      before,
      limit,
    ]);
  }

  private needVault(): Vault {
    if (this.vault === undefined) throw new HubError('internal', 'this outbox was opened without the vault: it cannot seal or open a sensitive job');
    return this.vault;
  }

  private async sealResult(id: string, result: JobResult): Promise<string> {
    const json = JSON.stringify(boundResult(result));
    const row = await this.store.maybeOne('SELECT tenant_id, sensitive FROM outbox_jobs WHERE id = $1', [id], (r) => sealingSchema.parse(r));
    if (row === undefined || row.sensitive === 0) return json;
    await this.needVault().ensureDataKey(row.tenant_id);
    return this.needVault().encrypt({ tenant: row.tenant_id, kind: 'outbox_result', id }, json);
  }

  /** Unseals a sensitive job's arguments and answer; a data key another replica made is read on demand. */
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

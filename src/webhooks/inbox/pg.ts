import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import type { PgStore, Queryable, Row } from '../../store/pg/pool.js';
import { newEventId } from './intake.js';
import { AT_POLL_CURSOR, COLUMNS, eventOf, rereadIds } from './sqlite.js';
import {
  deliverySchema,
  UNROUTABLE,
  type AcceptResult,
  type ClaimOptions,
  type CursorAdvance,
  type Delivery,
  type DeliveryInput,
  type DoneCursor,
  type FailOptions,
  type Inbox,
  type InboxEvent,
  type ListFilter,
  type PolledResult,
  type PurgeResult,
  type ReplayResult,
} from './types.js';
import { equalsWhere, OWNER_AND_STATE } from '../../store/pg/where.js';

/** A handler's error text is kept for `webhooks list`, bounded (as on SQLite). */
const MAX_ERROR_CHARS = 1000;

export interface PgInboxOptions {
  /** Told after a commit that stored new rows (a worker in this process wakes up). */
  onStored?: () => void;
}

interface Pending {
  d: Delivery;
  id: string;
  receivedAt: number;
}

const idOf = (r: Row): string => z.string().parse(r.id);
const eventIdOf = (r: Row): string => z.string().parse(r.event_id);
const seqOf = (r: Row): number => z.number().parse(r.seq);

function parseDelivery(input: DeliveryInput, where: string): Delivery {
  const parsed = deliverySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HubError('invalid_params', `inbox delivery${where}: ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`);
}

// The conflict target must repeat inbox_events_provider_id's expression and predicate to use it.
const PROVIDER_KEY = `(integration, (COALESCE(connection_id, '')), provider_event_id) WHERE provider_event_id IS NOT NULL`;

/**
 * The inbox on PostgreSQL, for several replicas on one database. Dedupe is the unique keys
 * (`INSERT … ON CONFLICT DO NOTHING`: a second replica inserting the same delivery waits for the
 * first's commit, then finds its row); claims lock their rows with `FOR UPDATE SKIP LOCKED`, so
 * two replicas never lease one event; every other transition is one guarded UPDATE. `now` is the
 * injected clock's, passed as a parameter (never SQL's now()), as on SQLite.
 *
 * No group commit: SQLite batches accepts because its commit (one WAL write under one lock) is
 * the dear part; here each accept is its own transaction and concurrent ones commit in parallel.
 */
export class PgInbox implements Inbox {
  constructor(
    private readonly store: PgStore,
    private readonly clock: Clock,
    private readonly opts: PgInboxOptions = {},
  ) {}

  async accept(input: DeliveryInput): Promise<AcceptResult> {
    const d = parseDelivery(input, ' ');
    const receivedAt = this.clock.now();
    const p: Pending = { d, id: newEventId(receivedAt), receivedAt };
    let result: AcceptResult;
    try {
      result = await this.store.tx((q) => this.writeOne(q, p));
    } catch (err) {
      // Nothing is durable: the caller answers 5xx and the provider redelivers.
      throw new HubError('store_failed', `the inbox could not store a delivery: ${(err as Error).message}`, { cause: err });
    }
    if (result.outcome === 'stored') this.opts.onStored?.();
    return result;
  }

  async acceptPolled(inputs: readonly DeliveryInput[], c: CursorAdvance): Promise<PolledResult> {
    for (const d of inputs)
      if (d.integration !== c.integration || d.connection?.id !== c.connectionId)
        throw new HubError('invalid_params', `a polled page of ${c.integration}/${c.feed} holds an event for another connection`);
    const receivedAt = this.clock.now();
    const batch = inputs.map((input, i): Pending => ({ d: parseDelivery(input, ` ${i}`), id: newEventId(receivedAt), receivedAt }));
    let results: AcceptResult[] | 'refused';
    try {
      results = await this.store.tx(async (q) => {
        // The cursor first: a replica that read the same cursor waits on this row, then finds it moved.
        if (c.from === null)
          await q.exec(
            `INSERT INTO pollers (connection_id, feed, integration, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (connection_id, feed) DO NOTHING`,
            [c.connectionId, c.feed, c.integration, receivedAt],
          );
        const moved = await q.exec(
          `UPDATE pollers SET cursor = $3, cursor_at = CASE WHEN cursor IS NOT DISTINCT FROM $3 THEN cursor_at ELSE $4 END, updated_at = $4
           WHERE connection_id = $1 AND feed = $2 AND cursor IS NOT DISTINCT FROM $5 AND ($6::text IS NULL OR lease_owner = $6)`,
          [c.connectionId, c.feed, c.to, receivedAt, c.from, c.owner ?? null],
        );
        if (moved !== 1) return 'refused';
        const out: AcceptResult[] = [];
        for (const p of batch) out.push(await this.writeOne(q, p));
        const reread = rereadIds(out);
        // See AT_POLL_CURSOR. LEAST skips NULLs, so a cursor_at not known (NULL: everything kept) is left alone.
        if (reread.length > 0)
          await q.exec(
            `UPDATE pollers SET cursor_at = LEAST(cursor_at, (SELECT MIN(received_at) FROM inbox_events WHERE id = ANY($3::text[]) AND source <> 'poll'))
             WHERE connection_id = $1 AND feed = $2 AND cursor_at IS NOT NULL`,
            [c.connectionId, c.feed, reread],
          );
        return out;
      });
    } catch (err) {
      throw new HubError('store_failed', `the inbox could not store a page of ${batch.length} events: ${(err as Error).message}`, { cause: err });
    }
    if (results === 'refused') return { outcome: 'conflict' };
    if (results.some((r) => r.outcome === 'stored')) this.opts.onStored?.();
    return { outcome: 'committed', results };
  }

  async cursorOf(connectionId: string, feed: string): Promise<string | null | undefined> {
    return this.store.maybeOne('SELECT cursor FROM pollers WHERE connection_id = $1 AND feed = $2', [connectionId, feed], (r) =>
      z.string().nullable().parse(r.cursor),
    );
  }

  /** Both layers of dedupe and the event row, inside the caller's transaction. */
  private async writeOne(q: Queryable, { d, id, receivedAt }: Pending): Promise<AcceptResult> {
    const key = [d.integration, d.endpoint, d.deliveryId] as const;
    if (d.deliveryId !== undefined) {
      const mine = await q.query(
        `INSERT INTO webhook_deliveries (integration, endpoint, delivery_id, event_id, received_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (integration, endpoint, delivery_id) DO NOTHING RETURNING event_id`,
        [...key, id, receivedAt],
      );
      if (mine.length === 0) {
        // Read committed: this statement sees the row whose commit the INSERT above waited for.
        const first = await q.maybeOne('SELECT event_id FROM webhook_deliveries WHERE integration = $1 AND endpoint = $2 AND delivery_id = $3', key, eventIdOf);
        // Purged between the two statements: a serialization failure, so the transaction runs again.
        if (first === undefined) throw Object.assign(new Error(`delivery ${d.deliveryId} vanished while it was deduplicated`), { code: '40001' });
        return this.redelivered(q, first, d, id, receivedAt);
      }
    }
    const payload = typeof d.payload === 'string' ? Buffer.from(d.payload, 'utf8') : Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength);
    const stored = await q.query(
      `INSERT INTO inbox_events (id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id, source, received_at,
         payload, state, attempts, next_attempt_at, last_error, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $10, $13, $10)
       ON CONFLICT ${PROVIDER_KEY} DO NOTHING RETURNING id`,
      [
        id,
        d.connection?.tenant ?? null,
        d.connection?.user ?? null,
        d.connection?.id ?? null,
        d.integration,
        d.endpoint,
        d.type,
        d.providerEventId ?? null,
        d.source,
        receivedAt,
        payload,
        // An event no connection matched has no handler to run: stored dead, listed, replayable (as on SQLite).
        d.connection ? 'pending' : 'dead',
        d.connection ? null : UNROUTABLE,
      ],
    );
    if (stored.length === 1) return { outcome: 'stored', eventId: id, routed: d.connection !== undefined };
    // Layer two: this change is already in (from a poll, or a webhook to another endpoint).
    const first = await q.maybeOne(
      `SELECT id FROM inbox_events WHERE integration = $1 AND COALESCE(connection_id, '') = $2 AND provider_event_id = $3`,
      [d.integration, d.connection?.id ?? '', d.providerEventId ?? null],
      idOf,
    );
    if (first === undefined) throw Object.assign(new Error(`inbox event ${id} was neither stored nor found`), { code: '40001' });
    if (d.deliveryId !== undefined)
      await q.exec('UPDATE webhook_deliveries SET event_id = $4 WHERE integration = $1 AND endpoint = $2 AND delivery_id = $3', [...key, first]);
    return { outcome: 'duplicate', eventId: first, routed: d.connection !== undefined };
  }

  /** A delivery id seen before: as on SQLite (intake.ts), an unroutable event moves to the connection the delivery now names. */
  private async redelivered(q: Queryable, first: string, d: Delivery, id: string, now: number): Promise<AcceptResult> {
    const routedTo = await q.maybeOne('SELECT connection_id FROM inbox_events WHERE id = $1', [first], (r) => z.string().nullable().parse(r.connection_id));
    if (d.connection === undefined || routedTo !== null) return { outcome: 'duplicate', eventId: first, routed: typeof routedTo === 'string' };
    const key = [d.integration, d.endpoint, d.deliveryId] as const;
    const moved = await q.query(
      `INSERT INTO inbox_events (id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id, source, received_at,
         payload, state, attempts, next_attempt_at, last_error, updated_at)
       SELECT $1, $2, $3, $4, integration, endpoint, type, provider_event_id, source, received_at, payload, 'pending', 0, $6, NULL, $6
       FROM inbox_events WHERE id = $5 AND connection_id IS NULL
       ON CONFLICT ${PROVIDER_KEY} DO NOTHING RETURNING id`,
      [id, d.connection.tenant, d.connection.user, d.connection.id, first, now],
    );
    const point = (to: string) =>
      q.exec('UPDATE webhook_deliveries SET event_id = $4 WHERE integration = $1 AND endpoint = $2 AND delivery_id = $3', [...key, to]);
    if (moved.length === 1) {
      await q.exec('DELETE FROM inbox_events WHERE id = $1', [first]);
      await point(id);
      return { outcome: 'stored', eventId: id, routed: true };
    }
    const mine = await q.maybeOne(
      `SELECT id FROM inbox_events WHERE integration = $1 AND connection_id = $2 AND provider_event_id = $3`,
      [d.integration, d.connection.id, d.providerEventId ?? null],
      idOf,
    );
    if (mine === undefined) return { outcome: 'duplicate', eventId: first, routed: false };
    await point(mine);
    return { outcome: 'duplicate', eventId: mine, routed: true };
  }

  async claim(o: ClaimOptions): Promise<InboxEvent[]> {
    const now = this.clock.now();
    // An idle worker asks once, outside a transaction: no BEGIN/COMMIT per tick on an empty inbox.
    const work = await this.store.one(
      `SELECT EXISTS (SELECT 1 FROM inbox_events WHERE state IN ('pending', 'failed') AND next_attempt_at <= $1)
           OR EXISTS (SELECT 1 FROM inbox_events WHERE state = 'processing' AND lease_until <= $1) AS work`,
      [now],
      (r) => z.boolean().parse(r.work),
    );
    if (!work && !o.ownerIsDead) return [];
    const held = o.ownerIsDead ? await this.heldByDead(this.store, o, now) : [];
    if (!work && held.length === 0) return [];
    return this.store.tx((q) => this.claimIn(q, o, held));
  }

  /** Rows leased to a holder known to be gone (see ClaimOptions.ownerIsDead). */
  private async heldByDead(q: Queryable, o: ClaimOptions, now: number): Promise<Array<{ id: string; owner: string }>> {
    const verdicts = new Map<string, boolean>();
    const rows = await q.query(
      `SELECT id, lease_owner FROM inbox_events WHERE state = 'processing' AND lease_until > $1 ORDER BY lease_until LIMIT $2`,
      [now, o.limit],
      (r) => ({ id: idOf(r), owner: z.string().nullable().parse(r.lease_owner) }),
    );
    return rows.flatMap((r) => {
      if (r.owner === null || r.owner === o.owner) return [];
      const dead = verdicts.get(r.owner) ?? o.ownerIsDead!(r.owner);
      verdicts.set(r.owner, dead);
      return dead ? [{ id: r.id, owner: r.owner }] : [];
    });
  }

  private async claimIn(q: Queryable, o: ClaimOptions, deadHeld: ReadonlyArray<{ id: string; owner: string }>): Promise<InboxEvent[]> {
    const now = this.clock.now();
    const until = now + o.leaseMs;
    // A dead holder's leases end now, guarded on that holder, so they are claimed below as expired.
    if (deadHeld.length > 0)
      await q.exec(
        `UPDATE inbox_events e SET lease_until = $3 FROM unnest($1::text[], $2::text[]) AS d(id, owner)
         WHERE e.id = d.id AND e.state = 'processing' AND e.lease_owner = d.owner`,
        [deadHeld.map((r) => r.id), deadHeld.map((r) => r.owner), now],
      );
    // Rows whose worker died holding them come back first: they have waited the longest.
    const expired = await q.query(
      `SELECT id, attempts FROM inbox_events WHERE state = 'processing' AND lease_until <= $1 ORDER BY lease_until LIMIT $2
       FOR UPDATE SKIP LOCKED`,
      [now, o.limit],
      (r) => ({ id: idOf(r), attempts: z.number().parse(r.attempts) }),
    );
    for (const e of expired.filter((x) => x.attempts >= o.maxAttempts)) {
      const error = `its lease expired after attempt ${e.attempts} of ${o.maxAttempts} (the worker stopped or its handler hung)`;
      await q.exec(
        `UPDATE inbox_events SET state = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = $2, last_error = $3
         WHERE id = $1 AND state = 'processing' AND lease_until <= $2`,
        [e.id, now, error],
      );
    }
    const again = expired.filter((x) => x.attempts < o.maxAttempts).map((x) => x.id);
    const claimed: InboxEvent[] = [];
    if (again.length > 0) {
      const rows = await q.query(
        `UPDATE inbox_events SET attempts = attempts + 1, lease_owner = $2, lease_until = $3, updated_at = $4
         WHERE id = ANY($1::text[]) AND state = 'processing' AND lease_until <= $4 RETURNING ${COLUMNS}`,
        [again, o.owner, until, now],
        eventOf,
      );
      const order = new Map(again.map((id, i) => [id, i]));
      claimed.push(...rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!));
    }
    const room = o.limit - claimed.length;
    if (room > 0) {
      const rows = await q.query(
        `UPDATE inbox_events e SET state = 'processing', attempts = e.attempts + 1, lease_owner = $3, lease_until = $4, updated_at = $1
         FROM (SELECT id AS pick FROM inbox_events WHERE state IN ('pending', 'failed') AND next_attempt_at <= $1
               ORDER BY next_attempt_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) c
         WHERE e.id = c.pick AND e.state IN ('pending', 'failed') RETURNING seq, ${COLUMNS}`,
        [now, room, o.owner, until],
        (r) => ({ seq: seqOf(r), event: eventOf(r) }),
      );
      rows.sort((a, b) => a.event.nextAttemptAt - b.event.nextAttemptAt || a.seq - b.seq);
      claimed.push(...rows.map((r) => r.event));
    }
    return claimed;
  }

  async complete(id: string, owner: string): Promise<boolean> {
    return (await this.completeAll([id], owner)).length === 1;
  }

  async completeAll(ids: readonly string[], owner: string): Promise<string[]> {
    if (ids.length === 0) return [];
    const done = await this.store.query(
      `UPDATE inbox_events SET state = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = $3
       WHERE id = ANY($1::text[]) AND state = 'processing' AND lease_owner = $2 RETURNING id`,
      [ids, owner, this.clock.now()],
      idOf,
    );
    const moved = new Set(done);
    return ids.filter((id) => moved.has(id));
  }

  async fail(id: string, owner: string, opts: FailOptions): Promise<'failed' | 'dead' | false> {
    const now = this.clock.now();
    const to = opts.retryAt === 'never' ? 'dead' : 'failed';
    const retryAt = opts.retryAt === 'never' ? now : opts.retryAt;
    const changed = await this.store.exec(
      `UPDATE inbox_events SET state = $3, next_attempt_at = $4, lease_owner = NULL, lease_until = NULL, last_error = $5, updated_at = $6
       WHERE id = $1 AND state = 'processing' AND lease_owner = $2`,
      [id, owner, to, retryAt, opts.error.slice(0, MAX_ERROR_CHARS), now],
    );
    return changed === 1 ? to : false;
  }

  /**
   * Keyset over (updated_at, seq) as on SQLite, after taking SHARE on inbox_events (as
   * PgEventReads does): a completion another replica is committing now is waited for, never
   * passed. What stays open is a stamp taken before this read and committed after it behind a
   * later stamp, or replicas' clocks apart: such an event is not told to this replica's listeners
   * (the cursor serves notifications, and EventFeed tells each event once; it is no queue).
   */
  async doneAfter(after: DoneCursor, limit: number): Promise<{ events: InboxEvent[]; next: DoneCursor }> {
    const rows = await this.store.tx(async (q) => {
      await q.exec('LOCK TABLE inbox_events IN SHARE MODE');
      return q.query(
        `SELECT seq, ${COLUMNS} FROM inbox_events WHERE state = 'done' AND (updated_at > $1 OR (updated_at = $1 AND seq > $2))
         ORDER BY updated_at, seq LIMIT $3`,
        [after.at, after.seq, limit],
        (r) => ({ seq: seqOf(r), event: eventOf(r) }),
      );
    });
    const last = rows.at(-1);
    return { events: rows.map((r) => r.event), next: last ? { at: last.event.updatedAt, seq: last.seq } : after };
  }

  async get(id: string): Promise<InboxEvent | undefined> {
    return this.store.maybeOne(`SELECT ${COLUMNS} FROM inbox_events WHERE id = $1`, [id], eventOf);
  }

  async list(filter: ListFilter = {}): Promise<InboxEvent[]> {
    const params: unknown[] = [];
    const where = equalsWhere(filter, OWNER_AND_STATE, params);
    if (filter.unroutable === true) where.push('connection_id IS NULL');
    params.push(filter.limit ?? 100);
    const sql = `SELECT ${COLUMNS} FROM inbox_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY received_at DESC, id DESC LIMIT $${params.length}`;
    return this.store.query(sql, params, eventOf);
  }

  async replay(id: string): Promise<ReplayResult> {
    return this.store.tx(async (q) => {
      // The row lock keeps a worker's claim or outcome from landing between the read and the update.
      const e = await q.maybeOne(`SELECT ${COLUMNS} FROM inbox_events WHERE id = $1 FOR UPDATE`, [id], eventOf);
      if (e === undefined) return { outcome: 'not_found' };
      if (e.state === 'pending' || e.state === 'processing') return { outcome: 'busy', state: e.state };
      const changed = await q.exec(
        `UPDATE inbox_events SET state = 'pending', attempts = 0, next_attempt_at = $3, last_error = NULL, lease_owner = NULL,
           lease_until = NULL, updated_at = $3
         WHERE id = $1 AND state = $2`,
        [id, e.state, this.clock.now()],
      );
      return changed === 1 ? { outcome: 'replayed', from: e.state } : { outcome: 'busy', state: e.state };
    });
  }

  async purge(before: number, limit = 10_000): Promise<PurgeResult> {
    const deliveries = await this.store.exec(
      `DELETE FROM webhook_deliveries WHERE (integration, endpoint, delivery_id) IN
        (SELECT integration, endpoint, delivery_id FROM webhook_deliveries WHERE received_at < $1 LIMIT $2)`,
      [before, limit],
    );
    const events = await this.store.exec(
      `DELETE FROM inbox_events WHERE id IN (SELECT id FROM inbox_events e WHERE received_at < $1 AND state = 'done' AND NOT ${AT_POLL_CURSOR} LIMIT $2)`,
      [before, limit],
    );
    return { deliveries, events };
  }
}

import type { Statement, Transaction } from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import type { Db } from '../../store/db.js';
import { InboxIntakeWriter, type IntakeOptions } from './intake.js';
import {
  EVENT_SOURCES,
  EVENT_STATES,
  type AcceptResult,
  type ClaimOptions,
  type CursorAdvance,
  type DeliveryInput,
  type FailOptions,
  type DoneCursor,
  type Inbox,
  type InboxEvent,
  type ListFilter,
  type PolledResult,
  type PurgeResult,
  type ReplayResult,
} from './types.js';

const rowSchema = z.object({
  id: z.string(),
  tenant_id: z.string().nullable(),
  user_id: z.string().nullable(),
  connection_id: z.string().nullable(),
  integration: z.string(),
  endpoint: z.string(),
  type: z.string(),
  provider_event_id: z.string().nullable(),
  source: z.enum(EVENT_SOURCES),
  received_at: z.number(),
  payload: z.instanceof(Buffer),
  state: z.enum(EVENT_STATES),
  attempts: z.number(),
  next_attempt_at: z.number(),
  last_error: z.string().nullable(),
  updated_at: z.number(),
});

/**
 * A done event the purge keeps (`e` is inbox_events): one its poller can read again. An inclusive
 * cursor (a timestamp) re-reads every item stored since the cursor took its value
 * (pollers.cursor_at; NULL: not known), and the provider event id is all that dedupes them, so
 * purged they would come back as new events. A page that found items a webhook had stored (polling
 * backs webhooks up) moves cursor_at back to the oldest of them (the `cover` statement), so those
 * are kept as well. A second of slack covers the event's stamp being
 * taken a little before the cursor's. A revoked connection's poller never reads again (its cursor
 * would never move on, and its events would be kept forever). Shared with the PostgreSQL inbox.
 */
export const AT_POLL_CURSOR = `(e.provider_event_id IS NOT NULL AND EXISTS (SELECT 1 FROM pollers p WHERE p.connection_id = e.connection_id
  AND (p.cursor_at IS NULL OR e.received_at >= p.cursor_at - 1000))
  AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.id = e.connection_id AND c.state = 'revoked'))`;

/** The ids of the stored events a polled page found again: the inbox keeps them while the cursor can re-read them. */
export function rereadIds(results: readonly AcceptResult[]): string[] {
  return results.filter((r) => r.outcome === 'duplicate').map((r) => r.eventId);
}

/** A row of inbox_events (every column of COLUMNS), checked, as the event the rest of the hub reads. */
export function eventOf(raw: unknown): InboxEvent {
  const r = rowSchema.parse(raw);
  const routed = r.connection_id !== null && r.tenant_id !== null && r.user_id !== null;
  return {
    id: r.id,
    integration: r.integration,
    endpoint: r.endpoint,
    type: r.type,
    providerEventId: r.provider_event_id,
    source: r.source,
    receivedAt: r.received_at,
    connection: routed ? { id: r.connection_id!, tenant: r.tenant_id!, user: r.user_id! } : null,
    payload: r.payload,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    updatedAt: r.updated_at,
  };
}

export const COLUMNS = `id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id, source, received_at,
  payload, state, attempts, next_attempt_at, last_error, updated_at`;

/** A handler's error text is kept for `webhooks list`, bounded. */
const MAX_ERROR_CHARS = 1000;

/**
 * The inbox on SQLite. better-sqlite3 answers synchronously; callers await anyway (STYLE.md §10),
 * so a PostgreSQL implementation is a second class. `now` comes from the injected clock and goes
 * into SQL as a parameter.
 */
export class SqliteInbox implements Inbox {
  private readonly intake: InboxIntakeWriter;
  private readonly st: Record<
    'due' | 'expired' | 'doneAfter' | 'held' | 'release' | 'claim' | 'expire' | 'complete' | 'fail' | 'get' | 'replay' | 'purgeDeliveries' | 'purgeEvents',
    Statement
  >;
  private readonly claimTx: Transaction<(opts: ClaimOptions) => InboxEvent[]>;
  private readonly cursors: Record<'create' | 'advance' | 'get' | 'cover', Statement>;
  private readonly replayTx: Transaction<(id: string) => ReplayResult>;
  private readonly completeAllTx: Transaction<(ids: readonly string[], owner: string) => string[]>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    opts: IntakeOptions = {},
  ) {
    this.intake = new InboxIntakeWriter(db, clock, opts);
    this.st = {
      // The two partial indexes inbox_events_due and inbox_events_leased serve these exactly.
      due: db.prepare(`SELECT ${COLUMNS} FROM inbox_events WHERE state IN ('pending', 'failed') AND next_attempt_at <= @now
        ORDER BY next_attempt_at LIMIT @limit`),
      expired: db.prepare(`SELECT ${COLUMNS} FROM inbox_events WHERE state = 'processing' AND lease_until <= @now
        ORDER BY lease_until LIMIT @limit`),
      // Served by inbox_events_done (updated_at, rowid riding along) as a keyset scan.
      doneAfter: db.prepare(`SELECT rowid AS seq, ${COLUMNS} FROM inbox_events WHERE state = 'done'
        AND (updated_at > @at OR (updated_at = @at AND rowid > @seq)) ORDER BY updated_at, rowid LIMIT @limit`),
      held: db.prepare(`SELECT id, lease_owner FROM inbox_events WHERE state = 'processing' AND lease_until > @now
        ORDER BY lease_until LIMIT @limit`),
      release: db.prepare(`UPDATE inbox_events SET lease_until = @now WHERE id = @id AND state = 'processing' AND lease_owner = @owner`),
      claim: db.prepare(`UPDATE inbox_events SET state = 'processing', attempts = attempts + 1, lease_owner = @owner,
          lease_until = @until, updated_at = @now
        WHERE id = @id AND state = @from AND (next_attempt_at <= @now OR state = 'processing') AND (state <> 'processing' OR lease_until <= @now)`),
      expire: db.prepare(`UPDATE inbox_events SET state = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = @now,
          last_error = @error
        WHERE id = @id AND state = 'processing' AND lease_until <= @now`),
      complete: db.prepare(`UPDATE inbox_events SET state = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL,
          updated_at = @now
        WHERE id = @id AND state = 'processing' AND lease_owner = @owner`),
      fail: db.prepare(`UPDATE inbox_events SET state = @to, next_attempt_at = @retryAt, lease_owner = NULL, lease_until = NULL,
          last_error = @error, updated_at = @now
        WHERE id = @id AND state = 'processing' AND lease_owner = @owner`),
      get: db.prepare(`SELECT ${COLUMNS} FROM inbox_events WHERE id = ?`),
      replay: db.prepare(`UPDATE inbox_events SET state = 'pending', attempts = 0, next_attempt_at = @now, last_error = NULL,
          lease_owner = NULL, lease_until = NULL, updated_at = @now
        WHERE id = @id AND state = @from`),
      purgeDeliveries: db.prepare(`DELETE FROM webhook_deliveries WHERE (integration, endpoint, delivery_id) IN
        (SELECT integration, endpoint, delivery_id FROM webhook_deliveries WHERE received_at < @before LIMIT @limit)`),
      purgeEvents: db.prepare(`DELETE FROM inbox_events WHERE id IN
        (SELECT id FROM inbox_events e WHERE received_at < @before AND state = 'done' AND NOT ${AT_POLL_CURSOR} LIMIT @limit)`),
    };
    this.cursors = {
      // The pollers table (migration 9) belongs to src/polling/; only the cursor is written here.
      create: db.prepare(`INSERT OR IGNORE INTO pollers (connection_id, feed, integration, created_at, updated_at)
        VALUES (@connectionId, @feed, @integration, @now, @now)`),
      advance: db.prepare(`UPDATE pollers SET cursor = @to, cursor_at = CASE WHEN cursor IS @to THEN cursor_at ELSE @now END, updated_at = @now
        WHERE connection_id = @connectionId AND feed = @feed AND cursor IS @from AND (@owner IS NULL OR lease_owner = @owner)`),
      get: db.prepare('SELECT cursor FROM pollers WHERE connection_id = ? AND feed = ?').pluck(),
      // See AT_POLL_CURSOR. min() of a NULL is NULL: a cursor_at not known stays so (everything is kept).
      cover: db.prepare(`UPDATE pollers SET cursor_at = min(cursor_at, ifnull((SELECT min(received_at) FROM inbox_events
        WHERE id IN (SELECT value FROM json_each(@ids)) AND source <> 'poll'), cursor_at)) WHERE connection_id = @connectionId AND feed = @feed`),
    };
    this.claimTx = db.transaction((o: ClaimOptions) => this.claimIn(o));
    this.replayTx = db.transaction((id: string) => this.replayIn(id));
    this.completeAllTx = db.transaction((ids: readonly string[], owner: string) => {
      const now = this.clock.now();
      return ids.filter((id) => this.st.complete.run({ id, owner, now }).changes === 1);
    });
  }

  accept(delivery: DeliveryInput): Promise<AcceptResult> {
    return this.intake.accept(delivery);
  }

  /** Commits the accepts queued for the next group commit now. */
  flush(): void {
    this.intake.flush();
  }

  async acceptPolled(deliveries: readonly DeliveryInput[], c: CursorAdvance): Promise<PolledResult> {
    for (const d of deliveries)
      if (d.integration !== c.integration || d.connection?.id !== c.connectionId)
        throw new HubError('invalid_params', `a polled page of ${c.integration}/${c.feed} holds an event for another connection`);
    const now = this.clock.now();
    const params = { ...c, owner: c.owner ?? null, now };
    const results = this.intake.acceptWith(
      deliveries,
      () => {
        if (c.from === null) this.cursors.create.run(params);
        return this.cursors.advance.run(params).changes === 1;
      },
      (written) => {
        const ids = rereadIds(written);
        if (ids.length > 0) this.cursors.cover.run({ connectionId: c.connectionId, feed: c.feed, ids: JSON.stringify(ids) });
      },
    );
    return results === 'refused' ? { outcome: 'conflict' } : { outcome: 'committed', results };
  }

  async cursorOf(connectionId: string, feed: string): Promise<string | null | undefined> {
    const cursor: unknown = this.cursors.get.get(connectionId, feed);
    return cursor === undefined ? undefined : z.string().nullable().parse(cursor);
  }

  async claim(opts: ClaimOptions): Promise<InboxEvent[]> {
    // An idle worker looks first without the write lock: in WAL a read never waits for a writer,
    // while BEGIN IMMEDIATE waits up to busy_timeout for one — blocking this process's event loop
    // every tick whenever another process (a `stdio` beside a `serve`) holds the lock.
    const now = this.clock.now();
    const idle =
      this.st.expired.get({ now, limit: 1 }) === undefined && this.st.due.get({ now, limit: 1 }) === undefined && this.heldByDead(opts, now).length === 0;
    if (idle) return [];
    return this.claimTx.immediate(opts);
  }

  /** Rows leased to a holder known to be gone (see ClaimOptions.ownerIsDead). */
  private heldByDead(o: ClaimOptions, now: number): Array<{ id: string; owner: string }> {
    if (!o.ownerIsDead) return [];
    const verdicts = new Map<string, boolean>();
    const dead = (owner: string) => {
      const known = verdicts.get(owner);
      if (known !== undefined) return known;
      const v = owner !== o.owner && o.ownerIsDead!(owner);
      verdicts.set(owner, v);
      return v;
    };
    const rows = this.st.held.all({ now, limit: o.limit }) as Array<{ id: string; lease_owner: string | null }>;
    return rows.flatMap((r) => (r.lease_owner !== null && dead(r.lease_owner) ? [{ id: r.id, owner: r.lease_owner }] : []));
  }

  private claimIn(o: ClaimOptions): InboxEvent[] {
    const now = this.clock.now();
    const claimed: InboxEvent[] = [];
    // A dead holder's leases end now, guarded on that holder, so they are claimed below as expired.
    for (const r of this.heldByDead(o, now)) this.st.release.run({ id: r.id, owner: r.owner, now });
    // Rows whose worker died holding them come back first: they have waited the longest.
    const candidates = [...this.st.expired.all({ now, limit: o.limit }), ...this.st.due.all({ now, limit: o.limit })].map(eventOf);
    for (const e of candidates) {
      if (claimed.length >= o.limit) break;
      if (e.state === 'processing' && e.attempts >= o.maxAttempts) {
        const error = `its lease expired after attempt ${e.attempts} of ${o.maxAttempts} (the worker stopped or its handler hung)`;
        this.st.expire.run({ id: e.id, now, error });
        continue;
      }
      const r = this.st.claim.run({ id: e.id, from: e.state, owner: o.owner, until: now + o.leaseMs, now });
      if (r.changes === 1) claimed.push({ ...e, state: 'processing', attempts: e.attempts + 1, updatedAt: now });
    }
    return claimed;
  }

  async complete(id: string, owner: string): Promise<boolean> {
    return this.st.complete.run({ id, owner, now: this.clock.now() }).changes === 1;
  }

  async doneAfter(after: DoneCursor, limit: number): Promise<{ events: InboxEvent[]; next: DoneCursor }> {
    const rows = this.st.doneAfter.all({ at: after.at, seq: after.seq, limit }) as Array<{ seq: number }>;
    const events = rows.map(eventOf);
    const last = events.at(-1);
    return { events, next: last ? { at: last.updatedAt, seq: rows.at(-1)!.seq } : after };
  }

  async completeAll(ids: readonly string[], owner: string): Promise<string[]> {
    return this.completeAllTx.immediate(ids, owner);
  }

  async fail(id: string, owner: string, opts: FailOptions): Promise<'failed' | 'dead' | false> {
    const now = this.clock.now();
    const to = opts.retryAt === 'never' ? 'dead' : 'failed';
    const retryAt = opts.retryAt === 'never' ? now : opts.retryAt;
    const r = this.st.fail.run({ id, owner, to, retryAt, error: opts.error.slice(0, MAX_ERROR_CHARS), now });
    return r.changes === 1 ? to : false;
  }

  async get(id: string): Promise<InboxEvent | undefined> {
    const row = this.st.get.get(id);
    return row === undefined ? undefined : eventOf(row);
  }

  async list(filter: ListFilter = {}): Promise<InboxEvent[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: filter.limit ?? 100 };
    if (filter.state !== undefined) {
      where.push('state = @state');
      params['state'] = filter.state;
    }
    if (filter.integration !== undefined) {
      where.push('integration = @integration');
      params['integration'] = filter.integration;
    }
    if (filter.tenant !== undefined) {
      where.push('tenant_id = @tenant');
      params['tenant'] = filter.tenant;
    }
    if (filter.user !== undefined) {
      where.push('user_id = @user');
      params['user'] = filter.user;
    }
    if (filter.unroutable === true) where.push('connection_id IS NULL');
    const sql = `SELECT ${COLUMNS} FROM inbox_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY received_at DESC, id DESC LIMIT @limit`;
    return this.db.prepare(sql).all(params).map(eventOf);
  }

  async replay(id: string): Promise<ReplayResult> {
    return this.replayTx.immediate(id);
  }

  private replayIn(id: string): ReplayResult {
    const row = this.st.get.get(id);
    if (row === undefined) return { outcome: 'not_found' };
    const e = eventOf(row);
    if (e.state === 'pending' || e.state === 'processing') return { outcome: 'busy', state: e.state };
    const r = this.st.replay.run({ id, from: e.state, now: this.clock.now() });
    return r.changes === 1 ? { outcome: 'replayed', from: e.state } : { outcome: 'busy', state: e.state };
  }

  async purge(before: number, limit = 10_000): Promise<PurgeResult> {
    const deliveries = this.st.purgeDeliveries.run({ before, limit }).changes;
    const events = this.st.purgeEvents.run({ before, limit }).changes;
    return { deliveries, events };
  }
}

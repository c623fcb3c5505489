import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import type { Db } from '../../store/db.js';
import { deliverySchema, UNROUTABLE, type AcceptResult, type Delivery, type DeliveryInput } from './types.js';

export interface IntakeOptions {
  /**
   * Concurrent accepts within one tick share one transaction (default on). In WAL mode with
   * synchronous=NORMAL a commit survives a killed process; what it costs is the commit itself,
   * so one commit for many rows is what makes ingestion fast (FACTS.md, "Queues and storage").
   */
  groupCommit?: boolean;
  /** Rows per transaction at most, so one burst does not hold the write lock for long. */
  maxBatch?: number;
  /** Told after a commit that stored new rows (a worker in this process wakes up). */
  onStored?: () => void;
}

interface Queued {
  d: Delivery;
  id: string;
  receivedAt: number;
  resolve: (r: AcceptResult) => void;
  reject: (err: unknown) => void;
}

// Random bytes drawn 4 KiB at a time: one randomBytes call per id cost a tenth of an accept's time.
let pool = Buffer.alloc(0);
let used = 0;

/** Event ids sort by the time they were received, then at random: a cursor over them follows arrival. */
export function newEventId(now: number): string {
  if (used + 8 > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += 8;
  return `evt_${now.toString(36).padStart(9, '0')}${pool.toString('hex', used - 8, used)}`;
}

/**
 * The write side of the inbox: dedupe on both layers and the event row, in one transaction per
 * batch. A duplicate is an answer, never an exception; only a store that cannot commit rejects.
 */
export class InboxIntakeWriter {
  private readonly queue: Queued[] = [];
  private scheduled = false;
  private readonly groupCommit: boolean;
  private readonly maxBatch: number;
  private readonly insertDelivery: Statement;
  private readonly deliveryEvent: Statement;
  private readonly insertEvent: Statement;
  private readonly providerEvent: Statement;
  private readonly pointDelivery: Statement;
  private readonly eventConnection: Statement;
  private readonly routeUnroutable: Statement;
  private readonly dropEvent: Statement;
  private readonly writeBatch: (batch: readonly Queued[]) => AcceptResult[];
  private readonly writeGuarded: (batch: readonly Queued[], guard: () => boolean, after: (r: AcceptResult[]) => void) => AcceptResult[] | 'refused';

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly opts: IntakeOptions = {},
  ) {
    this.groupCommit = opts.groupCommit ?? true;
    this.maxBatch = opts.maxBatch ?? 1000;
    this.insertDelivery = db.prepare(`INSERT OR IGNORE INTO webhook_deliveries (integration, endpoint, delivery_id, event_id, received_at)
      VALUES (@integration, @endpoint, @deliveryId, @eventId, @receivedAt)`);
    this.deliveryEvent = db.prepare('SELECT event_id FROM webhook_deliveries WHERE integration = ? AND endpoint = ? AND delivery_id = ?').pluck();
    this.insertEvent = db.prepare(`INSERT OR IGNORE INTO inbox_events
      (id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id, source, received_at, payload,
       state, attempts, next_attempt_at, last_error, updated_at)
      VALUES (@id, @tenant, @user, @connectionId, @integration, @endpoint, @type, @providerEventId, @source, @receivedAt, @payload,
       @state, 0, @receivedAt, @lastError, @receivedAt)`);
    this.providerEvent = db.prepare("SELECT id FROM inbox_events WHERE integration = ? AND ifnull(connection_id, '') = ? AND provider_event_id = ?").pluck();
    this.pointDelivery = db.prepare('UPDATE webhook_deliveries SET event_id = ? WHERE integration = ? AND endpoint = ? AND delivery_id = ?');
    this.eventConnection = db.prepare('SELECT connection_id FROM inbox_events WHERE id = ?').pluck();
    this.routeUnroutable = db.prepare(`INSERT OR IGNORE INTO inbox_events
      (id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id, source, received_at, payload,
       state, attempts, next_attempt_at, last_error, updated_at)
      SELECT @id, @tenant, @user, @connectionId, integration, endpoint, type, provider_event_id, source, received_at, payload,
       'pending', 0, @now, NULL, @now FROM inbox_events WHERE id = @from AND connection_id IS NULL`);
    this.dropEvent = db.prepare('DELETE FROM inbox_events WHERE id = ?');
    // IMMEDIATE: the write lock first, so another process's accept of the same delivery waits for
    // this commit and then finds its row, instead of both reading "absent".
    const tx = db.transaction((batch: readonly Queued[]) => batch.map((q) => this.writeOne(q)));
    this.writeBatch = (batch) => tx.immediate(batch);
    const guarded = db.transaction((batch: readonly Queued[], guard: () => boolean, after: (r: AcceptResult[]) => void) => {
      if (!guard()) return 'refused';
      const results = batch.map((q) => this.writeOne(q));
      after(results);
      return results;
    });
    this.writeGuarded = (batch, guard, after) => guarded.immediate(batch, guard, after);
  }

  /**
   * Stores deliveries now, in one transaction with `guard` (a poller's cursor move), which runs
   * first: when it says no, nothing is written. `after` sees the results in that transaction. Not
   * grouped with other accepts: a page is a batch.
   */
  acceptWith(inputs: readonly DeliveryInput[], guard: () => boolean, after: (results: AcceptResult[]) => void = () => {}): AcceptResult[] | 'refused' {
    const receivedAt = this.clock.now();
    const batch = inputs.map((input, i): Queued => {
      const parsed = deliverySchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new HubError('invalid_params', `inbox delivery ${i}: ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`);
      }
      return { d: parsed.data, id: newEventId(receivedAt), receivedAt, resolve: () => {}, reject: () => {} };
    });
    let results: AcceptResult[] | 'refused';
    try {
      results = this.writeGuarded(batch, guard, after);
    } catch (err) {
      throw new HubError('store_failed', `the inbox could not store a page of ${batch.length} events: ${(err as Error).message}`, { cause: err });
    }
    if (results !== 'refused' && results.some((r) => r.outcome === 'stored')) this.opts.onStored?.();
    return results;
  }

  accept(input: DeliveryInput): Promise<AcceptResult> {
    const parsed = deliverySchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(new HubError('invalid_params', `inbox delivery ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`));
    }
    const receivedAt = this.clock.now();
    return new Promise((resolve, reject) => {
      const q: Queued = { d: parsed.data, id: newEventId(receivedAt), receivedAt, resolve, reject };
      if (!this.groupCommit) return this.commit([q]);
      this.queue.push(q);
      if (!this.scheduled) {
        this.scheduled = true;
        // One tick: every accept made by the requests that arrived in this turn of the event loop.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits whatever is queued now (also on stop, so no accepted caller is left waiting). */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) this.commit(this.queue.splice(0, this.maxBatch));
  }

  private commit(batch: Queued[]): void {
    let results: AcceptResult[];
    try {
      results = this.writeBatch(batch);
    } catch (err) {
      // Nothing of the batch is durable: every caller hears so, and the provider will redeliver.
      const failure = new HubError('store_failed', `the inbox could not store ${batch.length} deliveries: ${(err as Error).message}`, { cause: err });
      for (const q of batch) q.reject(failure);
      return;
    }
    for (const [i, q] of batch.entries()) q.resolve(results[i]!);
    if (results.some((r) => r.outcome === 'stored')) this.opts.onStored?.();
  }

  private writeOne({ d, id, receivedAt }: Queued): AcceptResult {
    const key = [d.integration, d.endpoint, d.deliveryId] as const;
    if (d.deliveryId !== undefined) {
      const r = this.insertDelivery.run({ integration: d.integration, endpoint: d.endpoint, deliveryId: d.deliveryId, eventId: id, receivedAt });
      if (r.changes === 0) return this.redelivered(this.deliveryEvent.get(...key) as string, d, id, receivedAt);
    }
    const payload = typeof d.payload === 'string' ? Buffer.from(d.payload, 'utf8') : Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength);
    const stored = this.insertEvent.run({
      id,
      tenant: d.connection?.tenant ?? null,
      user: d.connection?.user ?? null,
      connectionId: d.connection?.id ?? null,
      integration: d.integration,
      endpoint: d.endpoint,
      type: d.type,
      providerEventId: d.providerEventId ?? null,
      source: d.source,
      receivedAt,
      payload,
      // An event no connection matched has no handler to run: it is stored dead (kept, listed by
      // `webhooks list --unroutable`, replayable), with no trip through the worker per event.
      state: d.connection ? 'pending' : 'dead',
      lastError: d.connection ? null : UNROUTABLE,
    });
    if (stored.changes === 1) return { outcome: 'stored', eventId: id, routed: d.connection !== undefined };
    // Layer two: this change is already in (from a poll, or a webhook to another endpoint).
    const first = this.providerEvent.get(d.integration, d.connection?.id ?? '', d.providerEventId ?? null) as string | undefined;
    if (first === undefined) throw new HubError('internal', `inbox event ${id} was neither stored nor found`);
    if (d.deliveryId !== undefined) this.pointDelivery.run(first, ...key);
    return { outcome: 'duplicate', eventId: first, routed: d.connection !== undefined };
  }

  /**
   * A delivery id seen before. When its event was kept unroutable (it came before the account was
   * linked) and the delivery now names a connection, the event is moved to that connection as a
   * new row, so it is handled and its owner's cursors see it; otherwise the first event answers.
   */
  private redelivered(first: string, d: Delivery, id: string, now: number): AcceptResult {
    const routedTo: unknown = this.eventConnection.get(first);
    if (d.connection === undefined || routedTo !== null) return { outcome: 'duplicate', eventId: first, routed: typeof routedTo === 'string' };
    const key = [d.integration, d.endpoint, d.deliveryId] as const;
    const params = { id, from: first, tenant: d.connection.tenant, user: d.connection.user, connectionId: d.connection.id, now };
    if (this.routeUnroutable.run(params).changes === 1) {
      this.dropEvent.run(first);
      this.pointDelivery.run(id, ...key);
      return { outcome: 'stored', eventId: id, routed: true };
    }
    // That connection has this provider event already (by poll, say): the delivery is its duplicate.
    const mine = this.providerEvent.get(d.integration, d.connection.id, d.providerEventId ?? null) as string | undefined;
    if (mine === undefined) return { outcome: 'duplicate', eventId: first, routed: false };
    this.pointDelivery.run(mine, ...key);
    return { outcome: 'duplicate', eventId: mine, routed: true };
  }
}

import { z } from 'zod';
import type { SandboxDb } from './db.js';
import { publicId } from './secrets.js';
import type { Ticket } from './tickets-store.js';

export const EVENT_TYPES = ['ticket.created', 'ticket.updated', 'ticket.deleted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event as the API and the webhooks carry it. */
export interface SandboxEvent {
  id: string;
  type: EventType;
  account_id: string;
  occurred_at: string;
  data: { ticket: Ticket };
}

/** One page of events; `lastSeq` is the sequence number the next `after` page starts behind. */
export interface EventPage {
  events: SandboxEvent[];
  lastSeq: number;
  hasMore: boolean;
}

const rowSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  owner: z.string(),
  type: z.enum(EVENT_TYPES),
  occurred_at: z.number().int(),
  data: z.string(),
});
type EventRow = z.infer<typeof rowSchema>;

const COLUMNS = 'seq, id, owner, type, occurred_at, data';

/** The per-account change log behind GET /api/events and the webhooks. */
export class EventStore {
  constructor(private readonly db: SandboxDb) {}

  /**
   * Appends one event. Callers run it inside the transaction that made the change, so the log
   * holds exactly the committed changes.
   */
  record(owner: string, type: EventType, ticket: Ticket, occurredAt: number): SandboxEvent {
    const id = publicId('evt');
    this.db
      .prepare('INSERT INTO sandbox_events (id, owner, type, occurred_at, data) VALUES (?, ?, ?, ?, ?)')
      .run(id, owner, type, occurredAt, JSON.stringify({ ticket }));
    return { id, type, account_id: owner, occurred_at: new Date(occurredAt).toISOString(), data: { ticket } };
  }

  /** Oldest first, strictly after the sequence number `after`. */
  after(owner: string, after: number, limit: number): EventPage {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM sandbox_events WHERE owner = ? AND seq > ? ORDER BY seq LIMIT ?`)
      .all(owner, after, limit + 1)
      .map((r) => rowSchema.parse(r));
    return page(rows, limit, after);
  }

  /**
   * From `since` on, inclusive, ordered by (occurred_at, seq). A timestamp cursor is the classic
   * way to lose rows: when a page ends inside a run of events with one timestamp, a client that
   * resumes after that timestamp skips the rest of the run. Resuming *at* it (inclusive) and
   * dropping the ids it has seen loses nothing, as long as a run is shorter than a page.
   */
  since(owner: string, since: number, limit: number): EventPage {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM sandbox_events WHERE owner = ? AND occurred_at >= ? ORDER BY occurred_at, seq LIMIT ?`)
      .all(owner, since, limit + 1)
      .map((r) => rowSchema.parse(r));
    // An empty page resumes behind everything already logged before `since`.
    const before = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM sandbox_events WHERE owner = ? AND occurred_at < ?').get(owner, since) as {
      seq: number;
    };
    return page(rows, limit, before.seq);
  }
}

function page(rows: EventRow[], limit: number, emptySeq: number): EventPage {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { events: kept.map(present), lastSeq: last ? last.seq : emptySeq, hasMore: rows.length > limit };
}

function present(row: EventRow): SandboxEvent {
  const data = JSON.parse(row.data) as { ticket: Ticket };
  return { id: row.id, type: row.type, account_id: row.owner, occurred_at: new Date(row.occurred_at).toISOString(), data };
}

import type { Clock } from '../../src/clock.js';
import type { SandboxDb } from './db.js';
import type { EventStore, EventType, SandboxEvent } from './events-store.js';
import { publicId } from './secrets.js';

export const STATUSES = ['open', 'pending', 'closed'] as const;
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

export interface Ticket {
  id: string;
  title: string;
  body: string;
  priority: (typeof PRIORITIES)[number];
  status: (typeof STATUSES)[number];
  created_at: string;
  updated_at: string;
}

export interface Account {
  username: string;
  created_at: string;
}

interface TicketRow extends Omit<Ticket, 'created_at' | 'updated_at'> {
  seq: number;
  created_at: number;
  updated_at: number;
}

export type TicketChanges = Partial<Pick<Ticket, 'title' | 'body' | 'priority' | 'status'>>;

const COLUMNS = 'seq, id, title, body, priority, status, created_at, updated_at';

/**
 * The tickets API's data: every query is scoped to the owning account. Each change is logged as an
 * event in its own transaction, and `onCommit` hears of the event only once that has committed.
 */
export class TicketStore {
  constructor(
    private readonly db: SandboxDb,
    private readonly clock: Clock,
    private readonly events: EventStore,
    private readonly onCommit: (event: SandboxEvent) => void = () => {},
  ) {}

  account(username: string): Account | undefined {
    const row = this.db.prepare('SELECT username, created_at FROM sandbox_accounts WHERE username = ?').get(username) as
      | { username: string; created_at: number }
      | undefined;
    return row && { username: row.username, created_at: new Date(row.created_at).toISOString() };
  }

  create(owner: string, t: Pick<Ticket, 'title' | 'body' | 'priority'>): Ticket {
    return this.change(
      owner,
      'ticket.created',
      (now) =>
        this.db
          .prepare(`INSERT INTO sandbox_tickets (id, owner, title, body, priority, status, created_at, updated_at)
                  VALUES (?, ?, ?, ?, ?, 'open', ?, ?) RETURNING ${COLUMNS}`)
          .get(publicId('tkt'), owner, t.title, t.body, t.priority, now, now) as TicketRow,
    )!;
  }

  get(owner: string, id: string): Ticket | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM sandbox_tickets WHERE owner = ? AND id = ?`).get(owner, id) as TicketRow | undefined;
    return row && present(row);
  }

  /** Newest first; `before` is the sequence number the previous page ended at. */
  list(owner: string, limit: number, before: number | null): { tickets: Ticket[]; nextBefore: number | null } {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM sandbox_tickets WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?`)
      .all(owner, before ?? Number.MAX_SAFE_INTEGER, limit + 1) as TicketRow[];
    const page = rows.slice(0, limit);
    return { tickets: page.map(present), nextBefore: rows.length > limit ? page[page.length - 1]!.seq : null };
  }

  update(owner: string, id: string, changes: TicketChanges): Ticket | undefined {
    return this.change(
      owner,
      'ticket.updated',
      (now) =>
        this.db
          .prepare(`UPDATE sandbox_tickets SET title = COALESCE(@title, title), body = COALESCE(@body, body),
                      priority = COALESCE(@priority, priority), status = COALESCE(@status, status), updated_at = @now
                    WHERE owner = @owner AND id = @id RETURNING ${COLUMNS}`)
          .get({
            title: changes.title ?? null,
            body: changes.body ?? null,
            priority: changes.priority ?? null,
            status: changes.status ?? null,
            now,
            owner,
            id,
          }) as TicketRow | undefined,
    );
  }

  /** The deleted event carries the ticket as it was just before. */
  delete(owner: string, id: string): boolean {
    const gone = this.change(
      owner,
      'ticket.deleted',
      () => this.db.prepare(`DELETE FROM sandbox_tickets WHERE owner = ? AND id = ? RETURNING ${COLUMNS}`).get(owner, id) as TicketRow | undefined,
    );
    return gone !== undefined;
  }

  /** Runs one write and logs its event in one transaction; a write that matched nothing logs nothing. */
  private change(owner: string, type: EventType, write: (now: number) => TicketRow | undefined): Ticket | undefined {
    const now = this.clock.now();
    const done = this.db.transaction(() => {
      const row = write(now);
      if (!row) return undefined;
      const ticket = present(row);
      return { ticket, event: this.events.record(owner, type, ticket, now) };
    })();
    if (!done) return undefined;
    this.onCommit(done.event);
    return done.ticket;
  }
}

function present(row: TicketRow): Ticket {
  const { seq: _seq, ...rest } = row;
  return { ...rest, created_at: new Date(row.created_at).toISOString(), updated_at: new Date(row.updated_at).toISOString() };
}

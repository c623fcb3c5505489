import type { Clock } from '../../src/clock.js';
import type { SandboxDb } from './db.js';
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

/** The tickets API's data: every query is scoped to the owning account. */
export class TicketStore {
  constructor(
    private readonly db: SandboxDb,
    private readonly clock: Clock,
  ) {}

  account(username: string): Account | undefined {
    const row = this.db.prepare('SELECT username, created_at FROM sandbox_accounts WHERE username = ?').get(username) as
      | { username: string; created_at: number }
      | undefined;
    return row && { username: row.username, created_at: new Date(row.created_at).toISOString() };
  }

  create(owner: string, t: Pick<Ticket, 'title' | 'body' | 'priority'>): Ticket {
    const now = this.clock.now();
    const row = this.db
      .prepare(`INSERT INTO sandbox_tickets (id, owner, title, body, priority, status, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, 'open', ?, ?) RETURNING ${COLUMNS}`)
      .get(publicId('tkt'), owner, t.title, t.body, t.priority, now, now) as TicketRow;
    return present(row);
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
    const row = this.db
      .prepare(`UPDATE sandbox_tickets SET title = COALESCE(@title, title), body = COALESCE(@body, body),
                  priority = COALESCE(@priority, priority), status = COALESCE(@status, status), updated_at = @now
                WHERE owner = @owner AND id = @id RETURNING ${COLUMNS}`)
      .get({
        title: changes.title ?? null,
        body: changes.body ?? null,
        priority: changes.priority ?? null,
        status: changes.status ?? null,
        now: this.clock.now(),
        owner,
        id,
      }) as TicketRow | undefined;
    return row && present(row);
  }

  delete(owner: string, id: string): boolean {
    return this.db.prepare('DELETE FROM sandbox_tickets WHERE owner = ? AND id = ?').run(owner, id).changes === 1;
  }
}

function present(row: TicketRow): Ticket {
  const { seq: _seq, ...rest } = row;
  return { ...rest, created_at: new Date(row.created_at).toISOString(), updated_at: new Date(row.updated_at).toISOString() };
}

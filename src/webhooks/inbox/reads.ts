import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import { HubError } from '../../errors.js';
import type { Db } from '../../store/db.js';
import { COLUMNS, eventOf } from './sqlite.js';
import { envelopeOf, type EventEnvelope } from './types.js';

/** Whose events, of which integration, after which point, how many, of which type. */
export interface RecentQuery {
  tenant: string;
  user: string;
  integration: string;
  /** A cursor from an earlier answer: only events stored after it. Absent: the latest `limit`. */
  after?: string;
  type?: string;
  limit: number;
}

export interface RecentPage {
  /** Oldest first. */
  events: EventEnvelope[];
  /** Pass as `after` to get what arrived since; the same cursor when nothing did. */
  nextCursor: string;
  /** Each event's own cursor (what `nextCursor` would be had the page ended at it), in the order of `events`. */
  cursors: string[];
}

/**
 * A user's own events as MCP clients read them (the events resource and `recent_events`): routed
 * events only, never another user's, never an unroutable one. Promise-based like every repository,
 * so a PostgreSQL implementation is a second class.
 */
export interface EventReads {
  recent(q: RecentQuery): Promise<RecentPage>;
}

/**
 * Cursors are the row's insertion order (`seq`, an AUTOINCREMENT rowid: never handed out twice,
 * even after the purge deleted the newest rows), not its received_at: two processes stamp rows
 * with their own clocks, and a row committed later with an earlier stamp would slip behind a time
 * cursor. `seq` counts every user's events, so clients never see this cursor: the events view
 * seals it to its owner (integrations/event-cursor.ts) and opens it before it reaches here.
 */
const cursorSchema = z
  .string()
  .regex(/^e[0-9a-z]{1,12}$/)
  .transform((c) => Number.parseInt(c.slice(1), 36));

const encode = (rowid: number): string => `e${rowid.toString(36)}`;

/** The inbox's own columns, and the insertion order the cursor is made of. */
const SELECT = `rowid AS seq, ${COLUMNS}`;

export class SqliteEventReads implements EventReads {
  private readonly latest: Statement;
  private readonly since: Statement;

  constructor(db: Db) {
    // Served by inbox_events_feed (tenant, user, integration; rowid rides along in the index).
    const where = `tenant_id = @tenant AND user_id = @user AND integration = @integration AND connection_id IS NOT NULL
      AND (@type IS NULL OR type = @type)`;
    this.latest = db.prepare(`SELECT ${SELECT} FROM inbox_events WHERE ${where} ORDER BY rowid DESC LIMIT @limit`);
    this.since = db.prepare(`SELECT ${SELECT} FROM inbox_events WHERE ${where} AND rowid > @after ORDER BY rowid LIMIT @limit`);
  }

  async recent(q: RecentQuery): Promise<RecentPage> {
    const params = { tenant: q.tenant, user: q.user, integration: q.integration, type: q.type ?? null, limit: q.limit };
    let rows: Array<{ seq: number }>;
    if (q.after === undefined) {
      rows = (this.latest.all(params) as Array<{ seq: number }>).reverse();
    } else {
      const after = cursorSchema.safeParse(q.after);
      if (!after.success) throw new HubError('invalid_params', 'after: not a cursor from recent_events (pass the next_cursor of an earlier answer)');
      rows = this.since.all({ ...params, after: after.data }) as Array<{ seq: number }>;
      if (rows.length === 0) return { events: [], nextCursor: q.after, cursors: [] };
    }
    const last = rows.at(-1);
    // With nothing stored yet, a cursor before every row: what arrives next is "since".
    return { events: rows.map((r) => envelopeOf(eventOf(r))), nextCursor: encode(last?.seq ?? 0), cursors: rows.map((r) => encode(r.seq)) };
  }
}

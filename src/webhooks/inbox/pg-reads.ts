import { z } from 'zod';
import { HubError } from '../../errors.js';
import type { PgStore, Row } from '../../store/pg/pool.js';
import { isPgText } from '../../store/pg/text.js';
import type { EventReads, RecentPage, RecentQuery } from './reads.js';
import { COLUMNS, eventOf } from './sqlite.js';
import { envelopeOf } from './types.js';

/**
 * The cursor format of reads.ts: the row's insertion order in base 36, so a cursor moves between
 * stores' replicas unchanged. Sealed to its owner before a client sees it (integrations/event-cursor.ts).
 */
const cursorSchema = z
  .string()
  .regex(/^e[0-9a-z]{1,12}$/)
  .transform((c) => Number.parseInt(c.slice(1), 36));

const encode = (seq: number): string => `e${seq.toString(36)}`;
const rowOf = (r: Row) => ({ seq: z.number().parse(r.seq), event: eventOf(r) });

/**
 * A user's own events as MCP clients read them, on PostgreSQL. The cursor is `seq`, which an
 * INSERT takes before its transaction commits: a replica still committing seq 7 while seq 8 is
 * already visible would let a reader hand out a cursor past 7 and never show it. So each read
 * first takes SHARE on inbox_events, which waits for the transactions writing the table now and
 * holds new writes back for the length of one index read: every seq below what it reads is then
 * committed or never will be. Readers do not block each other (SHARE is self-compatible).
 */
export class PgEventReads implements EventReads {
  constructor(private readonly store: PgStore) {}

  async recent(q: RecentQuery): Promise<RecentPage> {
    let after: number | undefined;
    if (q.after !== undefined) {
      const parsed = cursorSchema.safeParse(q.after);
      if (!parsed.success) throw new HubError('invalid_params', 'after: not a cursor from recent_events (pass the next_cursor of an earlier answer)');
      after = parsed.data;
    }
    // Served by inbox_events_feed (tenant, user, integration, seq).
    const where = `tenant_id = $1 AND user_id = $2 AND integration = $3 AND connection_id IS NOT NULL AND ($4::text IS NULL OR type = $4)`;
    const params = [q.tenant, q.user, q.integration, q.type ?? null, q.limit];
    // A type with a NUL in it is no event's (store/pg/text.ts): nothing is read, as on SQLite.
    const rows =
      q.type !== undefined && !isPgText(q.type)
        ? []
        : await this.store.tx(async (tx) => {
            await tx.exec('LOCK TABLE inbox_events IN SHARE MODE');
            if (after === undefined)
              return (await tx.query(`SELECT seq, ${COLUMNS} FROM inbox_events WHERE ${where} ORDER BY seq DESC LIMIT $5`, params, rowOf)).reverse();
            return tx.query(`SELECT seq, ${COLUMNS} FROM inbox_events WHERE ${where} AND seq > $6 ORDER BY seq LIMIT $5`, [...params, after], rowOf);
          });
    if (after !== undefined && rows.length === 0) return { events: [], nextCursor: q.after!, cursors: [] };
    // With nothing stored yet, a cursor before every row: what arrives next is "since".
    return { events: rows.map((r) => envelopeOf(r.event)), nextCursor: encode(rows.at(-1)?.seq ?? 0), cursors: rows.map((r) => encode(r.seq)) };
  }
}

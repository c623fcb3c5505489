import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';

export const POLLER_STATES = ['active', 'stalled'] as const;
export type PollerState = (typeof POLLER_STATES)[number];

export interface PollerKey {
  connectionId: string;
  feed: string;
}

const rowSchema = z.object({
  connection_id: z.string(),
  feed: z.string(),
  integration: z.string(),
  cursor: z.string().nullable(),
  interval_ms: z.number(),
  next_run_at: z.number(),
  empty_polls: z.number(),
  failures: z.number(),
  stuck_pages: z.number(),
  state: z.enum(POLLER_STATES),
  reason: z.string().nullable(),
  paused_until: z.number().nullable(),
  last_error: z.string().nullable(),
  last_poll_at: z.number().nullable(),
  last_event_at: z.number().nullable(),
  events_total: z.number(),
  lease_owner: z.string().nullable(),
  lease_until: z.number().nullable(),
  updated_at: z.number(),
});

/** A poller's row: its cursor, its schedule and its health. */
export interface PollerRow extends PollerKey {
  integration: string;
  cursor: string | null;
  intervalMs: number;
  nextRunAt: number;
  emptyPolls: number;
  failures: number;
  stuckPages: number;
  state: PollerState;
  /** Why it is stalled, in words a user can act on. */
  reason: string | null;
  /** Set while the provider asked it to wait (Retry-After, or its rate budget's reserve reached). */
  pausedUntil: number | null;
  lastError: string | null;
  lastPollAt: number | null;
  lastEventAt: number | null;
  eventsTotal: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  updatedAt: number;
}

export function rowOf(raw: unknown): PollerRow {
  const r = rowSchema.parse(raw);
  return {
    connectionId: r.connection_id,
    feed: r.feed,
    integration: r.integration,
    cursor: r.cursor,
    intervalMs: r.interval_ms,
    nextRunAt: r.next_run_at,
    emptyPolls: r.empty_polls,
    failures: r.failures,
    stuckPages: r.stuck_pages,
    state: r.state,
    reason: r.reason,
    pausedUntil: r.paused_until,
    lastError: r.last_error,
    lastPollAt: r.last_poll_at,
    lastEventAt: r.last_event_at,
    eventsTotal: r.events_total,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    updatedAt: r.updated_at,
  };
}

/** What a run writes when it ends (the cursor was written with the events, by the inbox). */
export interface RunRecord {
  intervalMs: number;
  nextRunAt: number;
  emptyPolls: number;
  failures: number;
  stuckPages: number;
  state: PollerState;
  reason: string | null;
  pausedUntil: number | null;
  lastError: string | null;
  /** Events this run stored (not the duplicates). */
  stored: number;
}

/** True only when a lease's owner is known dead (src/oauth/owner.ts): its lease need not run out. */
export type OwnerIsDead = (owner: string) => boolean;

/**
 * The pollers a process runs: of the feeds its config declares, of active connections. A poller
 * stopped with its connection (revoked, to be linked again) or its feed keeps its row, due since its
 * last run: left in, enough of them would fill every read of due rows, oldest first, and no live
 * poller would be read as due again.
 */
export interface DueFilter {
  feeds: ReadonlyArray<{ integration: string; feed: string }>;
}

/** Due rows as both stores read them: free ones, and held ones whose holder is dead. */
export function claimable(rows: readonly unknown[], now: number, dead: OwnerIsDead | undefined): PollerKey[] {
  return rows.flatMap((r) => {
    const k = dueRow.parse(r);
    const free = k.lease_owner === null || k.lease_until === null || k.lease_until <= now || dead?.(k.lease_owner) === true;
    return free ? [{ connectionId: k.connection_id, feed: k.feed }] : [];
  });
}

const dueRow = z.object({ connection_id: z.string(), feed: z.string(), lease_owner: z.string().nullable(), lease_until: z.coerce.number().nullable() });

/** Pollers' rows behind a small interface (STYLE.md §10); the cursor itself moves through the inbox. */
export interface PollerStore {
  /** Creates the row of a feed not seen before, due at once; an existing row is left alone. */
  ensure(key: PollerKey, integration: string): Promise<void>;
  /**
   * Keys due now and not leased, read without the write lock: nobody holds them, or an owner `dead`
   * says is dead (a killed process on this host) does. With `only`, just the pollers such a process
   * runs (see DueFilter).
   */
  due(limit: number, dead?: OwnerIsDead, only?: DueFilter): Promise<PollerKey[]>;
  /**
   * Guarded: the row when this call took the lease, undefined when it is not due or another owner
   * holds it. A lease whose owner `dead` says is dead is taken at once, not after it runs out.
   */
  claim(key: PollerKey, owner: string, leaseMs: number, dead?: OwnerIsDead): Promise<PollerRow | undefined>;
  /** Guarded by the lease: records the run and lets the lease go; false when `owner` no longer held it. */
  finish(key: PollerKey, owner: string, run: RunRecord): Promise<boolean>;
  get(key: PollerKey): Promise<PollerRow | undefined>;
  list(filter?: { connectionIds?: readonly string[] }): Promise<PollerRow[]>;
}

export class SqlitePollerStore implements PollerStore {
  private readonly st: Record<'ensure' | 'due' | 'dueOf' | 'claim' | 'finish' | 'get' | 'all', Statement>;

  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    this.st = {
      ensure: db.prepare(`INSERT OR IGNORE INTO pollers (connection_id, feed, integration, next_run_at, created_at, updated_at)
        VALUES (@connectionId, @feed, @integration, @now, @now, @now)`),
      due: db.prepare(`SELECT connection_id, feed, lease_owner, lease_until FROM pollers WHERE next_run_at <= @now
        ORDER BY next_run_at LIMIT @limit`),
      dueOf: db.prepare(`SELECT connection_id, feed, lease_owner, lease_until FROM pollers p WHERE next_run_at <= @now
          AND EXISTS (SELECT 1 FROM json_each(@feeds) f WHERE json_extract(f.value, '$[0]') = p.integration AND json_extract(f.value, '$[1]') = p.feed)
          AND EXISTS (SELECT 1 FROM connections c WHERE c.id = p.connection_id AND c.state = 'active')
        ORDER BY next_run_at LIMIT @limit`),
      // One statement, so the check and the take are one step: two processes cannot both see it free.
      // @dead: the holder this process found dead, whose lease is taken as if it had run out.
      claim: db.prepare(`UPDATE pollers SET lease_owner = @owner, lease_until = @until, last_poll_at = @now, updated_at = @now
        WHERE connection_id = @connectionId AND feed = @feed AND next_run_at <= @now
          AND (lease_owner IS NULL OR lease_until <= @now OR lease_owner = @dead)`),
      finish: db.prepare(`UPDATE pollers SET interval_ms = @intervalMs, next_run_at = @nextRunAt, empty_polls = @emptyPolls,
          failures = @failures, stuck_pages = @stuckPages, state = @state, reason = @reason, paused_until = @pausedUntil,
          last_error = @lastError, events_total = events_total + @stored,
          last_event_at = CASE WHEN @stored > 0 THEN @now ELSE last_event_at END,
          lease_owner = NULL, lease_until = NULL, updated_at = @now
        WHERE connection_id = @connectionId AND feed = @feed AND lease_owner = @owner`),
      get: db.prepare('SELECT * FROM pollers WHERE connection_id = ? AND feed = ?'),
      all: db.prepare('SELECT * FROM pollers ORDER BY integration, connection_id, feed'),
    };
  }

  async ensure(key: PollerKey, integration: string): Promise<void> {
    this.st.ensure.run({ ...key, integration, now: this.clock.now() });
  }

  async due(limit: number, dead?: OwnerIsDead, only?: DueFilter): Promise<PollerKey[]> {
    const now = this.clock.now();
    if (only === undefined) return claimable(this.st.due.all({ now, limit }), now, dead);
    const feeds = JSON.stringify(only.feeds.map((f) => [f.integration, f.feed]));
    return claimable(this.st.dueOf.all({ now, limit, feeds }), now, dead);
  }

  async claim(key: PollerKey, owner: string, leaseMs: number, dead?: OwnerIsDead): Promise<PollerRow | undefined> {
    const now = this.clock.now();
    const held = dead === undefined ? undefined : (await this.get(key))?.leaseOwner;
    const deadOwner = held !== undefined && held !== null && held !== owner && dead!(held) ? held : null;
    if (this.st.claim.run({ ...key, owner, until: now + leaseMs, now, dead: deadOwner }).changes !== 1) return undefined;
    return this.get(key);
  }

  async finish(key: PollerKey, owner: string, run: RunRecord): Promise<boolean> {
    return this.st.finish.run({ ...key, owner, ...run, now: this.clock.now() }).changes === 1;
  }

  async get(key: PollerKey): Promise<PollerRow | undefined> {
    const r = this.st.get.get(key.connectionId, key.feed);
    return r === undefined ? undefined : rowOf(r);
  }

  async list(filter: { connectionIds?: readonly string[] } = {}): Promise<PollerRow[]> {
    const rows = this.st.all.all().map(rowOf);
    if (filter.connectionIds === undefined) return rows;
    const wanted = new Set(filter.connectionIds);
    return rows.filter((r) => wanted.has(r.connectionId));
  }
}

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseExact } from '../../definition/exact-json.js';
import { nestsTooDeep } from '../../mcp/json-depth.js';
import { withoutBom } from '../bom.js';

/** An inbox event's life: guarded transitions in SQL, one row changed or none (STYLE.md §12). */
export const EVENT_STATES = ['pending', 'processing', 'done', 'failed', 'dead'] as const;
export type EventState = (typeof EVENT_STATES)[number];

export const EVENT_SOURCES = ['webhook', 'poll'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/** Why an event with no connection is dead from the start: kept and listed, never handled. */
export const UNROUTABLE = 'unroutable: no connection matched this event';

/** The connection an event was routed to; an event without one is unroutable and kept all the same. */
export const routeSchema = z.strictObject({
  id: z.string().min(1),
  tenant: z.string().min(1),
  user: z.string().min(1),
});
export type EventRoute = z.infer<typeof routeSchema>;

/** Ids up to this length are kept as sent; a longer one is kept as its digest (`boundedId`). */
export const MAX_ID_CHARS = 512;
/** Types are kept up to this length (`boundedType`). */
export const MAX_TYPE_CHARS = 256;

/**
 * An id as the dedupe keys hold it: as sent when it fits, else `sha256:<hex>` of all of it. No
 * provider promises a length, and a signed delivery refused for its id is lost (a 4xx stops the
 * provider's retries). The digest keeps dedupe working: every redelivery of it maps to the same
 * key, and the payload keeps the id whole.
 */
export function boundedId(id: string): string {
  return id.length <= MAX_ID_CHARS ? id : `sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

/**
 * A type cut to MAX_TYPE_CHARS, as a poller's item type is (polling/page.ts): a type is a label to
 * list and filter by, not a key, and the payload keeps it whole. Never cut inside a surrogate pair,
 * whose lone half would be stored as U+FFFD.
 */
export function boundedType(type: string): string {
  if (type.length <= MAX_TYPE_CHARS) return type;
  const last = type.charCodeAt(MAX_TYPE_CHARS - 1);
  return type.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_TYPE_CHARS - 1 : MAX_TYPE_CHARS);
}

/**
 * What the webhook route (after the signature check) and a poller hand to the inbox. `deliveryId`
 * is the first layer of dedupe (a redelivery of one webhook), `providerEventId` the second (one
 * change arriving by webhook and by poll). Over-long ids and types are bounded here, not refused:
 * what the provider signed is kept whatever its size (the route caps the body).
 */
export const deliverySchema = z.strictObject({
  integration: z.string().min(1).max(64),
  /** The per-connection endpoint of `/webhooks/:integration/:endpoint`; '' for the shared route. */
  endpoint: z.string().max(128).default(''),
  deliveryId: z.string().min(1).transform(boundedId).optional(),
  providerEventId: z.string().min(1).transform(boundedId).optional(),
  connection: routeSchema.optional(),
  type: z.string().min(1).transform(boundedType),
  source: z.enum(EVENT_SOURCES).default('webhook'),
  /** The provider's bytes as received (verified), or the JSON text of a polled item. */
  payload: z.union([z.instanceof(Uint8Array), z.string()]),
});
export type DeliveryInput = z.input<typeof deliverySchema>;
export type Delivery = z.output<typeof deliverySchema>;

/** `stored`: a new durable row. `duplicate`: seen before (either layer); `eventId` is the first one's. */
export interface AcceptResult {
  outcome: 'stored' | 'duplicate';
  eventId: string;
  /** Whether that event is a connection's (false: kept unroutable). */
  routed: boolean;
}

export interface InboxEvent {
  id: string;
  integration: string;
  endpoint: string;
  type: string;
  providerEventId: string | null;
  source: EventSource;
  receivedAt: number;
  connection: EventRoute | null;
  payload: Buffer;
  state: EventState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  updatedAt: number;
}

/** The one event envelope of ARCHITECTURE.md, shown to tools, resources and the CLI. */
export interface EventEnvelope {
  id: string;
  type: string;
  integration: string;
  connectionId: string | null;
  source: EventSource;
  receivedAt: number;
  /**
   * Read by parseExact: an integer past 2^53 is held as its marked text, so write an envelope out
   * with stringifyExact (the digits as sent) or hand it out as data with plainExact, never with
   * JSON.stringify.
   */
  payload: unknown;
  /** Set when the body was not UTF-8 text: `payload` is then its bytes in base64. */
  payloadEncoding?: 'base64';
}

/**
 * The payload as the provider sent it: JSON when it is JSON, else its text; bytes that are not
 * UTF-8 go as base64 (marked), since decoding them as text would replace them with U+FFFD and
 * the signed body could not be recovered. JSON nesting deeper than MAX_JSON_DEPTH goes as its text.
 */
export function envelopeOf(e: InboxEvent): EventEnvelope {
  const head = { id: e.id, type: e.type, integration: e.integration, connectionId: e.connection?.id ?? null, source: e.source, receivedAt: e.receivedAt };
  if (!isUtf8(e.payload)) return { ...head, payload: e.payload.toString('base64'), payloadEncoding: 'base64' };
  const text = e.payload.toString('utf8');
  let payload: unknown = text;
  // Nesting no tool result could be written with (the route refuses it; a row kept before it did): the text.
  if (nestsTooDeep(text)) return { ...head, payload };
  try {
    // README: "the payload as the provider sent it": a tweet id past 2^53 keeps its digits.
    payload = parseExact(withoutBom(text));
  } catch {
    // Not JSON (a form-encoded Slack command, say): the text as received.
  }
  return { ...head, payload };
}

export interface ClaimOptions {
  owner: string;
  limit: number;
  leaseMs: number;
  /** A row whose lease expired after this many attempts is dead, not run again: its handler may be what kills the worker. */
  maxAttempts: number;
  /**
   * Whether a lease's holder is known to be gone (a process on this host that no longer runs):
   * its rows are claimable at once instead of when the lease expires, so a hub restarted after a
   * crash handles what the dead one held without waiting out the lease.
   */
  ownerIsDead?: (owner: string) => boolean;
}

export interface FailOptions {
  error: string;
  /** When to try again; 'never' makes the event dead. */
  retryAt: number | 'never';
}

export interface ListFilter {
  state?: EventState;
  integration?: string;
  tenant?: string;
  user?: string;
  /** Only events no connection was found for. */
  unroutable?: boolean;
  limit?: number;
}

export type ReplayResult = { outcome: 'replayed'; from: EventState } | { outcome: 'not_found' } | { outcome: 'busy'; state: EventState };

export interface PurgeResult {
  deliveries: number;
  events: number;
}

/** Takes deliveries in: resolves once the row is durable (or known), so the caller may answer 2xx. */
export interface InboxIntake {
  accept(delivery: DeliveryInput): Promise<AcceptResult>;
}

/** What a worker needs: leased claims and guarded outcomes. */
export interface InboxQueue {
  claim(opts: ClaimOptions): Promise<InboxEvent[]>;
  /** processing → done, only while `owner` holds the lease. */
  complete(id: string, owner: string): Promise<boolean>;
  /** `complete` for several events in one commit; the ids this call moved to done. */
  completeAll(ids: readonly string[], owner: string): Promise<string[]>;
  /** processing → failed (retryAt) or dead; false when `owner` no longer holds the lease. */
  fail(id: string, owner: string, opts: FailOptions): Promise<'failed' | 'dead' | false>;
}

/** Where a reading of finished events stopped: when the last one became done, and its row. */
export interface DoneCursor {
  at: number;
  seq: number;
}

/** Events finished by any process on the store, for telling this process's clients. */
export interface DoneEvents {
  /** Events that became done after `after`, in the order they did, and where to read on from. */
  doneAfter(after: DoneCursor, limit: number): Promise<{ events: InboxEvent[]; next: DoneCursor }>;
}

/** What the CLI and the purge job need. */
export interface InboxAdmin {
  get(id: string): Promise<InboxEvent | undefined>;
  list(filter?: ListFilter): Promise<InboxEvent[]>;
  /** done, failed or dead → pending with its attempts reset. */
  replay(id: string): Promise<ReplayResult>;
  /** Removes delivery ids and done events received before `before`, at most `limit` of each. */
  purge(before: number, limit?: number): Promise<PurgeResult>;
}

/**
 * A poller's cursor move, made in the transaction that stores its page: compare-and-set on the
 * cursor it read (`from`, null before the first page) and, with `owner`, only while that owner
 * holds the poller's lease. The same page stored twice, or by a poller that lost its lease, is
 * refused whole: no event without its cursor, no cursor without its events.
 */
export interface CursorAdvance {
  integration: string;
  connectionId: string;
  feed: string;
  from: string | null;
  to: string | null;
  owner?: string;
}

export type PolledResult = { outcome: 'committed'; results: AcceptResult[] } | { outcome: 'conflict' };

/** Takes one polled page in: its events (deduplicated like any delivery) and its cursor, together. */
export interface PolledIntake {
  acceptPolled(deliveries: readonly DeliveryInput[], cursor: CursorAdvance): Promise<PolledResult>;
  /** The cursor stored for a feed; undefined before its first page. */
  cursorOf(connectionId: string, feed: string): Promise<string | null | undefined>;
}

export type Inbox = InboxIntake & InboxQueue & InboxAdmin & PolledIntake & DoneEvents;

import type { CallToolResult, ReadResourceResult, Resource, Tool } from '@modelcontextprotocol/server';
import { plainExact, stringifyExact } from '../definition/exact-json.js';
import type { Identity } from '../identity/identity.js';
import type { ResourceUpdatedListener } from '../mcp/source.js';
import { inputValidator, type InputValidator } from '../mcp/validate-input.js';
import type { EventListener } from '../webhooks/inbox/handlers.js';
import type { EventReads, RecentPage } from '../webhooks/inbox/reads.js';
import type { CursorOwner, EventCursors } from './event-cursor.js';

/** The read-only tool every integration with events gets (a reserved tool name). */
export const EVENTS_TOOL = 'recent_events';

/** One URI per integration; what it holds is each reader's own events. */
export function eventsUri(integration: string): string {
  return `switchboard://events/${integration}`;
}

/** Where an integration's events come from: the inbox's reads and the feed of finished events. */
export interface IntegrationEvents {
  reads: EventReads;
  feed: { subscribe(listener: EventListener): () => void };
}

/** The events an integration shows, with what seals the cursors its clients are given. */
export interface ShownEvents extends IntegrationEvents {
  cursors: EventCursors;
}

const DEFAULT_LIMIT = 20;
const RESOURCE_LIMIT = 50;
/**
 * Bytes of events one answer carries at most (at least one event, whatever its size). A tool
 * answer holds them twice (its text and structuredContent), so 4 MiB keeps even a page of 1 MiB
 * payloads well inside the stdio face's maxMessageBytes (32 MiB by default).
 */
export const PAGE_BYTES = 4 * 1024 * 1024;

const INPUT = {
  type: 'object',
  properties: {
    after: { type: 'string', description: 'The next_cursor of an earlier answer: only events that arrived since. Omit for the latest.' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_LIMIT, description: 'At most this many events (1–100).' },
    type: { type: 'string', minLength: 1, maxLength: 256, description: "Only events of this type (the provider's, e.g. ticket.updated)." },
  },
  additionalProperties: false,
} as const;

const OUTPUT = {
  type: 'object',
  properties: {
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          type: { type: 'string' },
          integration: { type: 'string' },
          connectionId: { type: ['string', 'null'] },
          source: { enum: ['webhook', 'poll'] },
          receivedAt: { type: 'number' },
          payload: {},
          payloadEncoding: { const: 'base64', description: 'present when the body was not UTF-8 text: payload is its bytes in base64' },
        },
        required: ['id', 'type', 'integration', 'connectionId', 'source', 'receivedAt', 'payload'],
      },
    },
    next_cursor: { type: 'string' },
  },
  required: ['events', 'next_cursor'],
} as const;

/**
 * An integration's inbound events as MCP clients see them: the subscribable resource
 * `switchboard://events/<integration>` and the tool `<integration>__recent_events` for clients
 * that only use tools. Each identity reads and hears of its own connections' events only.
 */
export class EventsView {
  readonly uri: string;
  private readonly validate: InputValidator;

  constructor(
    private readonly integration: string,
    private readonly title: string,
    private readonly events: ShownEvents,
  ) {
    this.uri = eventsUri(integration);
    this.validate = inputValidator(`${integration}__${EVENTS_TOOL}`, INPUT);
  }

  tool(): Tool {
    return {
      name: EVENTS_TOOL,
      title: `Recent ${this.title} events`,
      description:
        `Events your ${this.title} account sent to the hub (webhooks, or polling where it has none), oldest first. ` +
        'Pass next_cursor back as `after` to get only what arrived since (an answer holds at most 4 MiB of events: page on with next_cursor).',
      inputSchema: INPUT as unknown as Tool['inputSchema'],
      outputSchema: OUTPUT as unknown as Tool['outputSchema'],
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    };
  }

  async call(args: Record<string, unknown>, identity: Identity): Promise<CallToolResult> {
    this.validate(args);
    const owner = this.ownerOf(identity);
    const page = await this.events.reads.recent({
      ...owner,
      limit: typeof args['limit'] === 'number' ? args['limit'] : DEFAULT_LIMIT,
      // The repositories read their own cursor; the client only ever holds it sealed to its owner.
      ...(typeof args['after'] === 'string' ? { after: this.events.cursors.open(args['after'], owner) } : {}),
      ...(typeof args['type'] === 'string' ? { type: args['type'] } : {}),
    });
    const structured = this.sealed(shape(page, typeof args['after'] === 'string'), owner);
    // The text carries payload integers past 2^53 as the numbers they were; structuredContent is a
    // JS value, where such a number would be rounded, so it carries them as strings of their digits.
    return { content: [{ type: 'text', text: stringifyExact(structured) }], structuredContent: plainExact(structured) as Record<string, unknown> };
  }

  resource(): Resource {
    return {
      uri: this.uri,
      name: `${this.integration}-events`,
      title: `${this.title} events`,
      description: `The latest ${RESOURCE_LIMIT} events of your ${this.title} account (at most 4 MiB of them), with the next_cursor recent_events goes on from; subscribe to hear of new ones.`,
      mimeType: 'application/json',
    };
  }

  async read(uri: string, identity: Identity): Promise<ReadResourceResult | undefined> {
    if (uri !== this.uri) return undefined;
    const owner = this.ownerOf(identity);
    const page = await this.events.reads.recent({ ...owner, limit: RESOURCE_LIMIT });
    return { contents: [{ uri, mimeType: 'application/json', text: stringifyExact(this.sealed(shape(page, false), owner)) }] };
  }

  private ownerOf(identity: Identity): CursorOwner {
    return { tenant: identity.tenant, user: identity.user, integration: this.integration };
  }

  /** The answer with its cursor sealed: the raw one counts every user's events (event-cursor.ts). */
  private sealed<T extends { next_cursor: string }>(answer: T, owner: CursorOwner): T {
    return { ...answer, next_cursor: this.events.cursors.seal(answer.next_cursor, owner) };
  }

  /** Tells `listener` of each finished event of this integration, naming only its owner. */
  onUpdated(listener: ResourceUpdatedListener): () => void {
    return this.events.feed.subscribe((_envelope, event) => {
      if (event.integration !== this.integration || event.connection === null) return;
      listener(this.uri, [{ tenant: event.connection.tenant, user: event.connection.user, scopes: [] }], event.id);
    });
  }
}

/** Whether a recent_events answer holds no events. */
export function noEvents(answer: CallToolResult): boolean {
  const events = (answer.structuredContent as { events?: unknown[] } | undefined)?.events;
  return Array.isArray(events) && events.length === 0;
}

/**
 * The page cut to PAGE_BYTES. Read from a cursor, the oldest events are kept and next_cursor is
 * the last one kept, so `after` goes on from there; the latest events (no cursor) keep the newest.
 */
function shape(page: RecentPage, fromCursor: boolean): { events: RecentPage['events']; next_cursor: string } {
  const sizes = page.events.map((e) => Buffer.byteLength(stringifyExact(e)));
  const order = fromCursor ? sizes.map((_, i) => i) : sizes.map((_, i) => sizes.length - 1 - i);
  let total = 0;
  let kept = 0;
  for (const i of order) {
    total += sizes[i]!;
    if (kept > 0 && total > PAGE_BYTES) break;
    kept++;
  }
  if (kept === page.events.length) return { events: page.events, next_cursor: page.nextCursor };
  if (!fromCursor) return { events: page.events.slice(page.events.length - kept), next_cursor: page.nextCursor };
  return { events: page.events.slice(0, kept), next_cursor: page.cursors[kept - 1] ?? page.nextCursor };
}

import { scalarText, stringifyExact } from '../definition/exact-json.js';
import type { PollFeed } from '../definition/poll.js';
import { jsonAt } from '../definition/selector.js';
import { HubError } from '../errors.js';
import type { DeliveryInput, EventRoute } from '../webhooks/inbox/types.js';

/** One page as the feed's paths read it. */
export interface Page {
  items: unknown[];
  /** The cursor to resume from; undefined when the body names none, null or "" (the current one stays). */
  next: string | undefined;
  /** The body's own `has_more` (or `hasMore`); undefined when it says nothing. */
  hasMore: boolean | undefined;
}

const bad = (feed: string, why: string) => new HubError('source_failed', `poll feed ${feed}: ${why}`);

/** Reads a page off a JSON body parsed by parseExact (ids and cursors past 2^53 kept as sent); a body the paths do not fit is an error that names the path. */
export function readPage(name: string, feed: PollFeed, body: unknown): Page {
  const items = feed.itemsAt === undefined ? body : jsonAt(body, feed.itemsAt);
  if (!Array.isArray(items)) throw bad(name, `no list at ${feed.itemsAt?.join('.') ?? 'the body'}`);
  const raw = jsonAt(body, feed.cursorFrom);
  const next = scalarText(raw);
  // An empty string is "no next page" where Slack (`response_metadata.next_cursor`) and others
  // page by cursor: like null, it leaves the current cursor where it is.
  if (raw !== undefined && raw !== null && raw !== '' && next === undefined)
    throw bad(name, `the cursor at ${feed.cursorFrom.join('.')} is not a string or number`);
  const flag = jsonAt(body, ['has_more']) ?? jsonAt(body, ['hasMore']);
  return { items, next, hasMore: typeof flag === 'boolean' ? flag : undefined };
}

/**
 * A page's items as inbox deliveries: the provider's id (`idAt`) is the dedupe key shared with
 * webhooks, the type from `typeFrom` (the feed's name when absent), the item's JSON as payload,
 * routed to the poller's connection. An item without an id cannot be deduplicated, so it fails
 * the page rather than risk delivering one change twice.
 */
export function deliveriesOf(integration: string, name: string, feed: PollFeed, items: readonly unknown[], route: EventRoute): DeliveryInput[] {
  return items.map((item, i) => {
    const id = scalarText(jsonAt(item, feed.idAt));
    if (id === undefined) throw bad(name, `item ${i} has no id at ${feed.idAt.join('.')}`);
    const type = feed.typeFrom === undefined ? undefined : scalarText(jsonAt(item, feed.typeFrom));
    return {
      integration,
      source: 'poll',
      // Bounded by the inbox as a webhook's are (an over-long id kept as its digest), so one
      // change that arrives both ways deduplicates.
      providerEventId: id,
      type: type ?? name,
      connection: route,
      payload: stringifyExact(item),
    };
  });
}

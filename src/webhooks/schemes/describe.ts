import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parseExact, scalarText } from '../../definition/exact-json.js';
import { parseSelector, type Selector } from '../../definition/selector.js';
import { SCHEME_FACTS, SCHEME_OTHER_SHAPES, type WebhookScheme } from '../../definition/webhooks.js';
import { withoutBom } from '../bom.js';
import { standardHeader } from './table.js';

/** Where each value of a delivery is read; absent selectors fall back to the scheme's (SCHEME_FACTS). */
export interface DeliveryFormat {
  scheme: WebhookScheme;
  idFrom?: Selector | undefined;
  typeFrom?: Selector | undefined;
  eventIdFrom?: Selector | undefined;
  accountFrom?: Selector | undefined;
}

export interface DeliveryToDescribe {
  format: DeliveryFormat;
  /** The bytes verifyDelivery accepted: describe only what was verified. */
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** The request target (`/webhooks/acme?account=42`), for `query:` selectors. */
  url?: string;
}

export type Description =
  | {
      ok: true;
      kind: 'event';
      /** The dedupe key: the provider's delivery id, or `sha256:<hex>` of the body when it sent none. */
      deliveryId: string;
      deliveryIdFrom: 'provider' | 'body_hash';
      type?: string;
      eventId?: string;
      accountId?: string;
      /** The body parsed once, here (JSON by parseExact, or a form's fields); undefined when it is neither. */
      payload: unknown;
    }
  /** Slack's Events API handshake: answer with `challenge`, store nothing. */
  | { ok: true; kind: 'url_verification'; challenge: string }
  | { ok: false; code: 'bad_body'; message: string };

function selectorOf(text: string | undefined): Selector | undefined {
  const s = text === undefined ? undefined : parseSelector(text);
  return typeof s === 'string' ? undefined : s;
}

// The table is checked when definition/webhooks.ts loads, so every entry parses.
const DEFAULTS = new Map<WebhookScheme, { idFrom?: Selector | undefined; typeFrom?: Selector | undefined }>(
  Object.entries(SCHEME_FACTS).map(([scheme, facts]) => {
    const f: { signsTimestamp: boolean; idFrom?: string; typeFrom?: string } = facts;
    return [scheme as WebhookScheme, { idFrom: selectorOf(f.idFrom), typeFrom: selectorOf(f.typeFrom) }];
  }),
);

/**
 * Where a scheme's deliveries carry the provider's own event id, the id its events API lists too
 * (Stripe's `evt_…` at `id` in GET /v1/events, Slack's `event_id`): an event that comes by webhook
 * and again by `poll` is one event only when both name it by that id, and without `eventIdFrom`
 * the webhook's copy had none, so the poll stored it a second time. The other schemes name none by
 * default: their delivery id is the sender's own (a Standard Webhooks message, a GitHub delivery),
 * not an id a provider's list of events shows.
 */
const EVENT_ID_DEFAULTS: Partial<Record<WebhookScheme, Selector>> = {
  stripe: { in: 'body', path: ['id'] },
  slack: { in: 'body', path: ['event_id'] },
};

/**
 * GitHub sends one X-GitHub-Delivery GUID to every hook an event triggers (FACTS.md): a repository
 * hook and an organization hook pointed at one endpoint would dedupe each other away. The hook id
 * makes the pair unique.
 */
function githubHookQualified(scheme: WebhookScheme, selector: Selector, id: string, headers: IncomingHttpHeaders): string {
  if (scheme !== 'github' || selector.in !== 'header' || selector.name !== 'x-github-delivery') return id;
  const hook = headerText(headers, 'x-github-hook-id');
  return hook === undefined ? id : `${hook}:${id}`;
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function queryText(url: string | undefined, name: string): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const value = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get(name);
  return value === null || value === '' ? undefined : value;
}

/** A dotted path into parsed JSON, own properties only; strings and finite numbers (as sent) are values. */
function bodyText(json: unknown, path: readonly string[]): string | undefined {
  let at: unknown = json;
  for (const segment of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, segment)) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  return scalarText(at);
}

const NOT_JSON = Symbol('not JSON');

function jsonOrNot(text: string): unknown {
  try {
    return parseExact(withoutBom(text));
  } catch {
    return NOT_JSON;
  }
}

/**
 * The body as `body:` selectors read it. JSON; or a form (application/x-www-form-urlencoded: Slack's
 * slash commands, its interactivity `payload=<json>`, a GitHub hook set to the form content type):
 * a `payload` field holding JSON is that JSON, else the fields are a flat object of strings. Only
 * reading is decoded: the signature was checked on the bytes as they came.
 */
function parsedBody(body: Buffer, headers: IncomingHttpHeaders): unknown {
  if (body.length === 0) return NOT_JSON;
  const text = body.toString('utf8');
  const type = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return jsonOrNot(text);
  const form = new URLSearchParams(text);
  const payload = form.get('payload');
  if (payload !== null) {
    const json = jsonOrNot(payload);
    if (json !== NOT_JSON) return json;
  }
  // A JSON document sent under the form's Content-Type (curl -d, senders that never set it): read
  // as form fields it is one key with no value, so its id, type and account were never found and
  // the event went unrouted, while its envelope shows it as the JSON it is. No form of fields
  // (`a=1&b=2`) parses as a JSON object or list, so this reads no real form otherwise.
  const whole = jsonOrNot(text);
  if (typeof whole === 'object' && whole !== null) return whole;
  return Object.fromEntries(form);
}

/**
 * What a verified delivery is: its dedupe id, type, event id and account, read with the config's
 * selectors. The body is parsed once; a body that is not JSON is an error only when a `body:`
 * selector has to read it. Never throws.
 */
export function describeDelivery(input: DeliveryToDescribe): Description {
  const { format, headers } = input;
  const defaults = DEFAULTS.get(format.scheme);
  const parsed = parsedBody(input.body, headers);

  // Slack sends this once, signed, when an Events API URL is saved; it has no event_id.
  if (format.scheme === 'slack' && parsed !== NOT_JSON && bodyText(parsed, ['type']) === 'url_verification') {
    const challenge = bodyText(parsed, ['challenge']);
    if (challenge === undefined) return { ok: false, code: 'bad_body', message: 'a url_verification body has no challenge' };
    return { ok: true, kind: 'url_verification', challenge };
  }

  const selectors = {
    deliveryId: format.idFrom ?? defaults?.idFrom,
    type: format.typeFrom ?? defaults?.typeFrom,
    eventId: format.eventIdFrom ?? EVENT_ID_DEFAULTS[format.scheme],
    accountId: format.accountFrom,
  };
  // The scheme's other delivery shapes, read when the selector above reads nothing (Slack's interactivity, slash commands).
  const other = SCHEME_OTHER_SHAPES[format.scheme];
  const fallbacks: Partial<Record<keyof typeof selectors, Selector[]>> = { type: other.typeFrom, accountId: other.accountFrom };
  const read = (selector: Selector): string | undefined =>
    selector.in === 'header'
      ? format.scheme === 'standard-webhooks' && selector.name.startsWith('webhook-')
        ? standardHeader((name) => headerText(headers, name), selector.name.slice('webhook-'.length))
        : headerText(headers, selector.name)
      : selector.in === 'query'
        ? queryText(input.url, selector.name)
        : parsed === NOT_JSON
          ? undefined
          : bodyText(parsed, selector.path);
  const values: Partial<Record<keyof typeof selectors, string>> = {};
  for (const [field, selector] of Object.entries(selectors) as [keyof typeof selectors, Selector | undefined][]) {
    if (selector?.in === 'body' && parsed === NOT_JSON) {
      return { ok: false, code: 'bad_body', message: `the body is not JSON or a form, so body:${selector.path.join('.')} cannot be read` };
    }
    let value = selector === undefined ? undefined : read(selector);
    for (const f of fallbacks[field] ?? []) value ??= read(f);
    if (value !== undefined) values[field] = value;
  }

  const providerId =
    values.deliveryId === undefined || selectors.deliveryId === undefined
      ? undefined
      : githubHookQualified(format.scheme, selectors.deliveryId, values.deliveryId, headers);
  return {
    ok: true,
    kind: 'event',
    // Without an id a redelivery is recognized by its bytes: the body, not the signed timestamp, which retries renew.
    deliveryId: providerId ?? `sha256:${createHash('sha256').update(input.body).digest('hex')}`,
    deliveryIdFrom: providerId === undefined ? 'body_hash' : 'provider',
    ...(values.type === undefined ? {} : { type: values.type }),
    ...(values.eventId === undefined ? {} : { eventId: values.eventId }),
    ...(values.accountId === undefined ? {} : { accountId: values.accountId }),
    payload: parsed === NOT_JSON ? undefined : parsed,
  };
}

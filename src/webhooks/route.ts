import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import type { ConnectionWebhooks } from '../connections/webhooks.js';
import type { Connection } from '../connections/types.js';
import type { WebhooksConfig } from '../definition/webhooks.js';
import { ERROR_SPECS, httpError, type HubErrorCode } from '../errors.js';
import { writeJson } from '../http/json.js';
import { closeIfBodyUnread } from '../http/limits.js';
import { refusalLog } from '../http/refusal-log.js';
import { MAX_JSON_DEPTH, nestsTooDeep } from '../mcp/json-depth.js';
import type { Logger } from '../observability/logger.js';
import type { AcceptResult, InboxIntake } from './inbox/types.js';
import { answerNotStored } from './store-failure.js';
import { decodeBody, discardRest, readRawBody } from './raw-body.js';
import { describeDelivery, verifyDelivery } from './schemes/index.js';

export interface WebhookRouteDeps {
  /** The integrations that take webhooks; any other name is a 404. */
  integrations: ReadonlyArray<{ name: string; webhooks: WebhooksConfig }>;
  connections: ConnectionWebhooks;
  inbox: InboxIntake;
  clock: Clock;
  log: Logger;
  /** Seconds a provider is asked to wait when the store cannot take a delivery. */
  retryAfterSeconds?: number;
}

/** Where a delivery goes: `POST /webhooks/:integration[/:endpoint]`. */
export interface WebhookTarget {
  integration: string;
  /** '' for the shared route. */
  endpoint: string;
}

/** The route's handler, on Node's own request and response (see `webhookTarget`). */
export type WebhookHandler = (req: IncomingMessage, res: ServerResponse, target: WebhookTarget) => Promise<void>;

/**
 * The target of a request to the webhook route, or undefined when it is not one. The HTTP layer
 * calls this before express sees the request: a delivery needs none of express's work, and its
 * per-request cost was most of an acknowledgement's (measured with `bench:webhooks`).
 */
export function webhookTarget(method: string | undefined, url: string | undefined): WebhookTarget | undefined {
  if (method !== 'POST' || url === undefined || !url.startsWith('/webhooks/')) return undefined;
  const q = url.indexOf('?');
  const parts = (q === -1 ? url : url.slice(0, q)).slice('/webhooks/'.length).split('/');
  if (parts.at(-1) === '' && parts.length > 1) parts.pop(); // a trailing slash, as express allows
  if (parts.length > 2 || parts.some((p) => p === '')) return undefined;
  try {
    return { integration: decodeURIComponent(parts[0]!), endpoint: parts[1] === undefined ? '' : decodeURIComponent(parts[1]) };
  } catch {
    return undefined; // not percent-encoding: no route of ours
  }
}

/** The route alone as a Node request listener (tests, and hosts without the hub's HTTP app). */
export function serveWebhooks(handler: WebhookHandler): RequestListener {
  return (req, res) => {
    const target = webhookTarget(req.method, req.url);
    if (target) void handler(req, res, target);
    else writeJson(res, 404, httpError('not_found', 'no such route').body);
  };
}

// An endpoint id the hub made is `wh_` + 24 base64url characters; anything unlike an id is not one.
const ENDPOINT = /^[A-Za-z0-9_-]{1,128}$/;
const UNKNOWN_TYPE = 'unknown';

/**
 * Answers 200 with what was stored: `{ ok, id, duplicate, routed }` whether the delivery was new or
 * seen before; `routed` counts the connections that hold the event now (a redelivery of an event
 * kept unroutable says 0, unless it was routed by this delivery).
 */
function acknowledge(res: ServerResponse, results: readonly AcceptResult[]): void {
  const first = results[0]!;
  const routed = results.filter((r) => r.routed).length;
  writeJson(res, 200, { ok: true, id: first.eventId, duplicate: results.every((r) => r.outcome === 'duplicate'), routed });
}

/**
 * `POST /webhooks/:integration[/:endpoint]` (ARCHITECTURE.md, data flow 4): the raw bytes, capped
 * at the integration's `maxBodyBytes`, are verified before anything reads them, described with the
 * integration's selectors, routed to a connection and handed to the inbox; 200 only once the inbox
 * says the row is durable (never after processing). Every answer is 2xx or 4xx except a 503 with
 * Retry-After when the store could not keep a verified delivery, so the provider sends it again
 * (and a 500 for a fault of the hub's own).
 */
export function webhookHandler(deps: WebhookRouteDeps): WebhookHandler {
  const byName = new Map(deps.integrations.map((i) => [i.name, i.webhooks]));
  const retryAfter = String(deps.retryAfterSeconds ?? 10);

  // Anyone on the network can send junk here: its refusals are logged throttled per code.
  const refused = refusalLog(deps.log);
  const refuse = (req: IncomingMessage, res: ServerResponse, code: HubErrorCode, message: string) => {
    closeIfBodyUnread(req, res);
    const answer = httpError(code, message);
    writeJson(res, answer.status, answer.body);
  };

  return async (req, res, { integration, endpoint }) => {
    // Logged with every outcome: never the body, a header value, a secret or a whole endpoint id.
    const where = { integration, endpoint: endpoint === '' ? undefined : `${endpoint.slice(0, 6)}…` };
    const w = byName.get(integration);
    if (w === undefined) return refuse(req, res, 'not_found', `no integration "${integration}" takes webhooks here`);
    try {
      let connection: Connection | undefined;
      if (endpoint !== '') {
        connection = ENDPOINT.test(endpoint) ? await deps.connections.byEndpoint(integration, endpoint) : undefined;
        if (connection === undefined) return refuse(req, res, 'not_found', 'no such webhook endpoint');
      }
      const read = await readRawBody(req, w.maxBodyBytes);
      if (!read.ok) {
        if (read.reason === 'aborted') return void req.socket.destroy();
        refused('body_too_large', { ...where, maxBodyBytes: w.maxBodyBytes }, 'webhook delivery refused');
        // The rest of the body is read and dropped before the answer (the body deadline and
        // DISCARD_BYTES bound it): a sender still writing to a closed socket hears a reset, not the 413.
        if (!(await discardRest(req))) res.setHeader('Connection', 'close');
        return writeJson(res, ERROR_SPECS.body_too_large.http, httpError('body_too_large', `the body is over ${w.maxBodyBytes} bytes`).body);
      }
      // A compressed body is verified, read and kept as the bytes its sender signed.
      const decoded = decodeBody(read.body, req.headers['content-encoding'], w.maxBodyBytes);
      if (!decoded.ok) {
        refused(decoded.code, { ...where, why: decoded.message }, 'webhook delivery refused');
        return writeJson(res, ERROR_SPECS[decoded.code].http, httpError(decoded.code, decoded.message).body);
      }
      const body = decoded.body;
      // A connection's own secret verifies only its own endpoint, tried after the integration's.
      const own = connection?.hasWebhookSecret ? await deps.connections.webhookSecret(connection) : undefined;
      const verify = (signed: Buffer) =>
        verifyDelivery({
          scheme: w.scheme,
          body: signed,
          headers: req.headers,
          secrets: own === undefined ? w.secrets : [...w.secrets, own],
          now: deps.clock.now(),
          ...(w.toleranceSeconds === undefined ? {} : { toleranceSeconds: w.toleranceSeconds }),
        });
      let verdict = verify(body);
      // A sender that signed its compressed bytes as they went out is verified on those.
      if (!verdict.ok && verdict.code === 'bad_signature' && body !== read.body) verdict = verify(read.body);
      if (!verdict.ok) {
        refused(verdict.code, { ...where, why: verdict.message, bytes: body.length }, 'webhook delivery refused');
        return writeJson(res, ERROR_SPECS[verdict.code].http, httpError(verdict.code, verdict.message).body);
      }
      // Kept, a body nesting past what JSON.stringify survives would break every later read of its
      // user's events (recent_events, the events resource) until newer events pushed it out.
      const tooDeep = body.length > MAX_JSON_DEPTH && nestsTooDeep(body.toString('utf8'));
      const d = tooDeep
        ? ({ ok: false, code: 'bad_body', message: `the body nests deeper than ${MAX_JSON_DEPTH} levels` } as const)
        : describeDelivery({ format: w, body, headers: req.headers, url: req.url ?? '/' });
      if (!d.ok) {
        refused(d.code, { ...where, why: d.message }, 'webhook delivery refused');
        return writeJson(res, ERROR_SPECS[d.code].http, httpError(d.code, d.message).body);
      }
      // Slack's Events API handshake: the challenge back in a JSON body (api.slack.com/events/url_verification).
      if (d.kind === 'url_verification') return writeJson(res, 200, { challenge: d.challenge });

      const targets: (Connection | undefined)[] =
        connection !== undefined ? [connection] : d.accountId !== undefined ? await deps.connections.byAccount(integration, d.accountId) : [];
      // Nobody matched: kept unrouted and listed (`webhooks list --unroutable`), never dropped.
      if (targets.length === 0) targets.push(undefined);
      const results = await Promise.all(
        targets.map((c, i) =>
          deps.inbox.accept({
            integration,
            endpoint,
            // Several users linked one provider account: each connection gets the event, the first
            // under the provider's delivery id and the others under one qualified by their connection.
            deliveryId: i === 0 || c === undefined ? d.deliveryId : `${d.deliveryId}#${c.id}`,
            ...(d.eventId === undefined ? {} : { providerEventId: d.eventId }),
            ...(c === undefined ? {} : { connection: { id: c.id, tenant: c.tenant, user: c.user } }),
            type: d.type ?? UNKNOWN_TYPE,
            source: 'webhook',
            payload: body,
          }),
        ),
      );
      acknowledge(res, results);
    } catch (err) {
      // The schemes never throw: what fails here is the store, or what the store was handed.
      answerNotStored(req, res, err, { log: deps.log, where, what: 'delivery', retryAfter });
    }
  };
}

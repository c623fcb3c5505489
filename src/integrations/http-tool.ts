import { ProtocolError, ProtocolErrorCode, type CallToolResult } from '@modelcontextprotocol/server';
import { parseExact, stringifyExact } from '../definition/exact-json.js';
import type { Refusal } from '../definition/refusal.js';
import { ERROR_META_KEY, errorMetaOf, type HubErrorCode } from '../errors.js';
import { MAX_JSON_DEPTH, nestsTooDeep } from '../mcp/json-depth.js';
import { classifyResponse, outcomeOf, type SendOutcome } from '../outbox/classify.js';
import type { ProviderFetch } from '../providers/client.js';
import { cutText } from '../providers/cut-text.js';
import { resolveInScope, scopeOf, shown } from '../providers/scope.js';
import { stringify as formEncode } from 'qs';
import type { BodyEncoding } from '../definition/tools.js';
import type { IntegrationDefinition, ToolDefinition } from './definition.js';
import { type AnswerBody, answerBody, binaryContent } from './answer-body.js';
import { nextPageQuery, refusedArguments, withoutFixedQuery } from './link-header.js';
import { structuredExact } from './structured-exact.js';

/** Where a paged answer names its next page's query (from the provider's `Link: <…>; rel="next"`). */
export const NEXT_PAGE_META_KEY = 'switchboard/nextPage';

const WITHOUT_BODY = new Set(['GET', 'DELETE']);

/**
 * Runs a tool declared as an HTTP request template: `{name}` path segments take those arguments,
 * the rest become the query (GET, DELETE) or the JSON body, or where `argsIn` and `query` say. Provider failures are tool results
 * with isError, carrying the status and the provider's message so the model can recover.
 * Arguments were checked against the input schema before this runs (undeclared ones refused).
 */
export async function runHttpTool(
  def: Pick<IntegrationDefinition, 'title' | 'refusal' | 'bodyEncoding' | 'apiBaseUrl'>,
  tool: ToolDefinition,
  args: Record<string, unknown>,
  fetch: ProviderFetch,
  signal: AbortSignal,
): Promise<CallToolResult> {
  const r = httpRequestOf(tool, args, signal, def.bodyEncoding);
  const res = await fetch(r.target, r.init);
  // The provider client cuts the body while it streams (provider_response_too_large past its cap).
  const body = answerBody(res.headers.get('content-type'), new Uint8Array(await res.arrayBuffer()));
  if (body.kind === 'binary' && res.ok)
    return { content: binaryContent(`${def.title} answered ${r.method} ${r.path}`, uriOf(def.apiBaseUrl, r.path), body.mimeType, body.bytes) };
  // A failure's bytes are no message: its status says what happened.
  const text = textOf(body);
  return renderAnswer(def.title, { ...r, args }, { status: res.status, statusText: res.statusText, headers: res.headers, text }, def.refusal, tool);
}

/**
 * A queued write's answer as its job keeps it (status and text): decoded in the charset its
 * Content-Type declares, as a direct call's answer is, where UTF-8 made Latin-1 text and any
 * bytes replacement characters; bytes that are no text are named by their size and type.
 */
export function answerText(contentType: string | null, bytes: Uint8Array): string {
  return textOf(answerBody(contentType, bytes));
}

function textOf(body: AnswerBody): string {
  return body.kind === 'text' ? body.text : `(${body.bytes.byteLength} bytes of ${body.mimeType})`;
}

/** Where an answer came from, as a binary answer's resource names it: the API's URL without the query (tokens, signatures). */
function uriOf(apiBaseUrl: string, path: string): string {
  return shown(resolveInScope(scopeOf(apiBaseUrl), path));
}

/** A template tool's request: where it goes and how (the outbox sends it later, the direct path now). */
export interface HttpRequest {
  method: string;
  /** The path as declared with its placeholders filled, named in error texts. */
  path: string;
  target: string;
  init: RequestInit;
}

export function httpRequestOf(tool: ToolDefinition, args: Record<string, unknown>, signal?: AbortSignal, encoding?: BodyEncoding): HttpRequest {
  const method = tool.method!;
  const rest: Record<string, unknown> = { ...args };
  // A placeholder may appear more than once (`/orgs/{org}/members?org={org}`): each takes the same
  // value, and the argument leaves the query or body only once all of them are filled.
  const filled = new Set<string>();
  const path = tool.path!.replace(/\{([A-Za-z0-9_]+)\}/g, (_, key: string) => {
    const v = args[key];
    if (v === undefined || v === null) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `missing argument "${key}"`);
    // An empty value would address the collection ("/tickets/") instead of one of its items.
    if (v === '') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `argument "${key}" may not be empty (it fills the path ${tool.path})`);
    // String() of an object is "[object Object]", and of a list its items joined by commas (of an
    // empty list "", which would address the collection): the provider would be sent that, not the value.
    if (typeof v === 'object')
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `argument "${key}" fills the path ${tool.path}, so it must be a string, a number or a boolean, not ${Array.isArray(v) ? 'a list' : 'an object'}`,
      );
    const segment = String(v);
    refuseLoneSurrogate(key, segment);
    // RFC 3986 §5.2.4 removes dot-segments, so "/tickets/{id}" with id ".." would address "/"
    // instead; encoding cannot help, as URL parsing also reads %2E%2E as "..".
    if (segment === '.' || segment === '..') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `argument "${key}" may not be "${segment}"`);
    filled.add(key);
    return encodeURIComponent(segment);
  });
  for (const key of filled) delete rest[key];
  let target = path;
  const init: RequestInit = { method, headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) };
  const formEncoded = (tool.bodyEncoding ?? encoding) === 'form';
  // The method says where the arguments go unless the tool says otherwise (argsIn, query).
  const hasBody = (tool.argsIn ?? (WITHOUT_BODY.has(method) ? 'query' : 'body')) === 'body';
  const inQuery = new Set(tool.query ?? []);
  const queryArgs: Record<string, unknown> = {};
  const bodyArgs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) (!hasBody || inQuery.has(k) ? queryArgs : bodyArgs)[k] = v;
  const form = hasBody && formEncoded;
  // A JSON body sends a lone surrogate as its \uD800 escape; a query or a form would send U+FFFD.
  for (const [k, v] of Object.entries(form ? { ...queryArgs, ...bodyArgs } : queryArgs)) refuseLoneSurrogate(k, v);
  // Absent values are left out of a query.
  const present = Object.entries(queryArgs).filter(([, v]) => v !== undefined && v !== null);
  if (formEncoded) {
    // The query nests as the form body does (`created[gte]=1&expand[0]=customer`): an API that reads
    // brackets in its bodies (Stripe) reads them in its queries too, and refuses a list sent as
    // repeated keys or an object sent as JSON text.
    const query = formEncode(Object.fromEntries(present), { arrayFormat: 'indices' });
    if (query) target += `${target.includes('?') ? '&' : '?'}${query}`;
  } else {
    const q = new URLSearchParams();
    for (const [k, v] of present) {
      for (const item of Array.isArray(v) ? v : [v]) q.append(k, typeof item === 'object' ? JSON.stringify(item) : String(item));
    }
    if ([...q].length) target += `${target.includes('?') ? '&' : '?'}${q}`;
  }
  if (form) {
    // Brackets for nested values and indexes for lists, as Stripe reads them; null sends an empty value (unsets the field).
    init.body = formEncode(bodyArgs, { arrayFormat: 'indices' });
    init.headers = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  } else if (hasBody) {
    init.body = JSON.stringify(bodyArgs);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  return { method, path, target, init };
}

/** An unpaired UTF-16 surrogate: valid in a JSON string, but no character UTF-8 (so a URL) can carry. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Refuses an argument whose text (nested too) holds a lone surrogate, as invalid params naming it:
 * percent-encoding throws on one (URIError), and URLSearchParams and qs silently send U+FFFD instead.
 */
function refuseLoneSurrogate(key: string, v: unknown): void {
  if (holdsLoneSurrogate(v))
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `argument "${key}" holds a lone UTF-16 surrogate, which is not text a URL can carry`);
}

function holdsLoneSurrogate(v: unknown): boolean {
  if (typeof v === 'string') return LONE_SURROGATE.test(v);
  if (Array.isArray(v)) return v.some(holdsLoneSurrogate);
  if (typeof v === 'object' && v !== null) return Object.entries(v).some(([k, x]) => LONE_SURROGATE.test(k) || holdsLoneSurrogate(x));
  return false;
}

/** What came back, as far as the tool result shows it. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
}

/**
 * The provider's answer as the tool result: a failure (a status outside 2xx, or a 2xx the
 * integration's `refusal` reads as refused) names the status, the request and the provider's message.
 */
export function renderAnswer(
  title: string,
  /** `args`: the call's arguments, which the next call repeats (a path's `{owner}` is in no Link). */
  r: Pick<HttpRequest, 'method' | 'path'> & { args?: Record<string, unknown> },
  a: HttpAnswer,
  refusal?: Refusal,
  /**
   * The tool's schemas: the next page's arguments are given in the types its input declares, and
   * structuredContent in those its output declares. Absent for a stored answer rendered on its own.
   */
  schemas?: Pick<ToolDefinition, 'input' | 'output'>,
): CallToolResult {
  const input = schemas?.input;
  const { text } = a;
  // Read as the outbox reads a write's answer (one reading of statuses, rate limits and refusals).
  // Its `now` is the wall clock's: a provider's X-RateLimit-Reset is an instant on that clock.
  const outcome = outcomeOf(new Response(null, { status: a.status, headers: a.headers }), text, Date.now(), refusal);
  if (a.status < 200 || a.status > 299) {
    const retry = a.headers.get('retry-after');
    const detail = text ? `: ${cutText(text, 2000)}` : '';
    // Without a Retry-After, a spent window's X-RateLimit-Reset (GitHub's primary limit) says when.
    const when = retry
      ? ` (retry after ${/^\d+(?:\.\d+)?$/.test(retry.trim()) ? `${retry.trim()} s` : retry})`
      : outcome.retryAfterMs !== undefined
        ? ` (its rate limit resets in ${Math.ceil(outcome.retryAfterMs / 1000)} s)`
        : '';
    return failed(`${title} answered ${a.status} ${a.statusText} to ${r.method} ${r.path}${when}${detail}${scopeHint(a)}`, outcome);
  }
  if (outcome.refused !== undefined) return failed(`${title} refused ${r.method} ${r.path} (${outcome.refused}): ${cutText(text, 2000)}`, outcome);
  const parsed = exactJsonAnswer(a.headers.get('content-type'), text);
  // Parsed, it would overflow the stack when written out again (src/mcp/json-depth.ts); the hub
  // refuses such JSON wherever it arrives (MCP requests, webhook bodies), and says so here too.
  if (parsed === TOO_DEEP)
    return toolError(
      `${title} answered ${r.method} ${r.path} with JSON that nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects, which the hub does not read`,
      'downstream_error',
    );
  // The text keeps a long integer as the number it was; structuredContent, a JS value the SDK
  // serialises again, as the string of its digits (as events do), or as the number the output
  // schema declares there (structured-exact.ts).
  const shown = parsed === undefined ? text || `${a.status} ${a.statusText}` : stringifyExact(parsed, 2);
  const result: CallToolResult = { content: [{ type: 'text', text: shown }] };
  const output = schemas?.output === undefined ? undefined : { type: 'object', ...schemas.output };
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
    result.structuredContent = structuredExact(parsed, output) as Record<string, unknown>;
  // A page of a list: the body does not say there is more (GitHub's arrays), the Link header does.
  const next = nextPageQuery(a.headers.get('link'), input);
  if (next) {
    const hint = nextPageHint(next, withoutFixedQuery(next, r.path), input, r.args);
    result.content.push({ type: 'text', text: hint.text });
    if (hint.args) result._meta = { [NEXT_PAGE_META_KEY]: hint.args };
  }
  return result;
}

/**
 * What a refusal's headers say the token lacks, as GitHub says it on a 403 (or the 404 it answers
 * for what the token may not see): the OAuth scopes the endpoint accepts (`X-Accepted-OAuth-Scopes`)
 * when the token has none of them (`X-OAuth-Scopes`), or a GitHub App's permissions
 * (`X-Accepted-GitHub-Permissions`). The provider's own message ("Not Found", "Resource not
 * accessible by integration") does not say that the way forward is a scope and a new link.
 */
function scopeHint(a: HttpAnswer): string {
  if (a.status !== 403 && a.status !== 404) return '';
  const list = (name: string) =>
    (a.headers.get(name) ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const accepted = list('x-accepted-oauth-scopes');
  const granted = list('x-oauth-scopes');
  if (accepted.length > 0 && a.headers.has('x-oauth-scopes') && !accepted.some((x) => granted.includes(x)))
    return ` (the token was granted ${granted.length > 0 ? granted.join(', ') : 'no scopes'}; this endpoint accepts ${accepted.join(' or ')}: a linked account needs one added to the integration's oauth scopes and a new link)`;
  const permissions = a.headers.get('x-accepted-github-permissions')?.trim();
  if (permissions) return ` (this endpoint needs the app permission ${permissions}: grant it to the app, then have the account approve it)`;
  return '';
}

/**
 * The line naming the next page, and its arguments for the client. "Call again with those
 * arguments" only where the tool's input takes them (those its path template sends itself left
 * out): otherwise that call would be refused (-32602), so the line says there are more results
 * this tool cannot ask for. The client's arguments are the whole next call: the ones `given` to
 * this call with the page's over them, as a Link names the query only (GitHub's
 * `/repos/{owner}/{repo}/issues` pages by `?page=2`, and a call with that alone lacked its owner).
 */
function nextPageHint(
  next: Record<string, unknown>,
  args: Record<string, unknown>,
  input: Record<string, unknown> | undefined,
  given: Record<string, unknown> = {},
): { text: string; args?: Record<string, unknown> } {
  // A list as its key repeated, as the request sends one (`project=1&project=2`, not `project=1%2C2`).
  const query = (q: Record<string, unknown>) =>
    new URLSearchParams(Object.entries(q).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, String(x)])));
  // Without the tool's input schema (a stored answer rendered on its own) no call can be promised.
  if (input === undefined) return { text: `More results: the provider has a next page (${query(next)}).` };
  const refused = refusedArguments(args, input);
  if (Object.keys(args).length === 0 || refused.length > 0) {
    const why = refused.length > 0 ? `: its input does not take ${refused.join(', ')}` : '';
    return { text: `More results: the provider has a next page (${query(next)}), which this tool cannot ask for${why}.` };
  }
  const kept = Object.keys(given).filter((k) => !Object.hasOwn(args, k));
  const also = kept.length > 0 ? `, and ${kept.join(', ')} as before` : '';
  return { text: `More results: the next page is ${query(args)} (call again with those arguments${also}).`, args: { ...given, ...args } };
}

/** What exactJsonAnswer gives for JSON that nests too deep to be read. */
const TOO_DEEP = Symbol('too deep');

/**
 * The body as JSON when its Content-Type says JSON and it parses (refusal.ts's jsonAnswer), its
 * integers past 2^53 kept digit for digit: an id of Discord's or X's rounded is another item's.
 */
function exactJsonAnswer(contentType: string | null, text: string): unknown {
  // RFC 9110 §8.3.1: a media type is case-insensitive (`Application/JSON` is JSON too).
  if (!(contentType ?? '').toLowerCase().includes('json') || text === '') return undefined;
  if (nestsTooDeep(text)) return TOO_DEEP;
  try {
    return parseExact(text);
  } catch {
    return undefined;
  }
}

/**
 * A provider's failed answer as a result carrying the hub's code, as its own failures do, by the
 * outbox's verdict on the same answer (the agents' mapping, src/agents/policy.ts): what the outbox
 * would send again (a 429, a 403 that is a rate limit, 408, 5xx) is the provider unavailable for
 * now; a 401 or 403 (or a 2xx refusal listed in `refusal.unauthorized`) its refusal of the credentials; any
 * other refusal (a 4xx, a 2xx with `ok: false`) final.
 */
function failed(text: string, o: SendOutcome): CallToolResult {
  const retry = classifyResponse(o).kind === 'retry';
  // A 2xx refusal the integration lists as its token refused (Slack's invalid_auth) is a 401 by another name.
  const refusedCredentials = o.status === 401 || o.status === 403 || o.refusedCredentials === true;
  const code: HubErrorCode = retry ? 'source_unavailable' : refusedCredentials ? 'provider_unauthorized' : 'downstream_error';
  // The wait the provider named, as the hub's own errors carry it: a client schedules its retry without reading the text.
  return toolError(text, code, retry ? o.retryAfterMs : undefined);
}

/** An isError result carrying the hub's code, as the dispatcher shows the hub's own failures. */
function toolError(text: string, code: HubErrorCode, retryAfterMs?: number): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true, _meta: { [ERROR_META_KEY]: errorMetaOf(code, retryAfterMs) } };
}

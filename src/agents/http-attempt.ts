import type { Clock } from '../clock.js';
import { describeError, errorCodesUnder, isHubError } from '../errors.js';
import { MAX_JSON_DEPTH, nestsTooDeep } from '../mcp/json-depth.js';
import { readSome, type ProviderClient, type ProviderTarget } from '../providers/client.js';
import { type Credentials, noCredentials } from '../providers/credentials.js';
import { mediaType } from '../providers/media-type.js';
import { headerOf } from '../providers/streamed-response.js';
import { retryAfterMs } from '../providers/retry.js';
import { AgentAttemptError } from './adapter.js';
import { AgentCallError } from './policy.js';

/**
 * One HTTP exchange with an agent (every protocol), classified the way the policy reads it
 * (policy.ts). The provider client owns the timeout, the size cap and the redirect check; it is
 * told not to retry, since an agent call is not safe to repeat there. Credentials are the entry's
 * headers (kore, http) or its bearer key (upagents), and redirects are followed only inside the
 * scope (scope.ts: the URL's own folder, or the upagents base URL), so they cannot be carried to
 * another host.
 */
export interface AgentExchange {
  /** The config entry's name: errors and the pacer say it, never a header value. */
  name: string;
  provider: ProviderClient;
  clock: Clock;
  timeoutMs: number;
  signal: AbortSignal;
}

/** What an adapter of an agent addressed by URL (kore, http) is built with. */
export interface UrlAgentOptions<C> {
  /** The config entry's name: errors and the pacer say it, never a header value. */
  name: string;
  config: C;
  provider: ProviderClient;
  clock: Clock;
  /** The hub's URL, read when a call is made (a hub-relative `url` resolves against it). */
  publicUrl: () => string;
}

/** The most text one streamed answer may add up to (the provider client's default body cap, in characters). */
export const MAX_STREAMED_CHARS = 10 * 1024 * 1024;

/** Where redirects may go and what authenticates the request, when not the URL's folder and the headers alone. */
export interface ExchangeScope {
  apiBaseUrl: string;
  credentials: Credentials;
}

/** A hub-relative URL (the sandbox marketplace) resolved against the hub's URL at call time. */
export function absoluteUrl(url: string, publicUrl: () => string): string {
  return url.startsWith('/') ? `${publicUrl().replace(/\/+$/, '')}${url}` : url;
}

/**
 * Whether an answer is a server-sent event stream. Media type tokens are case-insensitive (RFC 9110
 * §8.3.1): `Text/Event-Stream; charset=utf-8` is one as well.
 */
export function isEventStream(res: Response): boolean {
  return mediaType(headerOf(res, 'content-type')) === 'text/event-stream';
}

/** Sends `init` to `url`; `streamed` ends the deadline at the headers (an SSE answer). A non-2xx is thrown classified. */
export async function exchange(x: AgentExchange, url: string, init: RequestInit, streamed: boolean, scope?: ExchangeScope): Promise<Response> {
  const u = new URL(url);
  const target: ProviderTarget = {
    label: `agent ${x.name}`,
    // By default the scope is the URL's own folder: a redirect may stay beside it, not leave it.
    apiBaseUrl: scope?.apiBaseUrl ?? `${u.origin}${u.pathname.replace(/[^/]*$/, '')}`,
    credentials: scope?.credentials ?? noCredentials,
    paceKey: `agent:${x.name}`,
    idempotent: false,
    limits: { timeoutMs: x.timeoutMs, retries: 0 },
    signal: x.signal,
  };
  let res: Response;
  try {
    res = streamed ? await x.provider.open(target, u.href, init) : await x.provider.bind(target)(u.href, init);
  } catch (err) {
    throw neverBuilt(err) ? unbuilt(x) : failure(x, err);
  }
  if (!res.ok) throw await refusal(x, res);
  return res;
}

/** The body as JSON; a body that is not JSON is the agent's fault (a protocol error, like a 5xx). */
export async function jsonOf(x: AgentExchange, res: Response): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw failure(x, err);
  }
  // JSON.parse takes any depth; what is written of the answer after it (results, stored tasks) does not.
  if (nestsTooDeep(text)) throw tooDeep(x.name);
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    throw new AgentAttemptError('protocol', `agent ${x.name} answered with a body that is not JSON`);
  }
}

/** JSON nesting past what the hub's results can be written with: an answer no tool result can carry. */
export function tooDeep(name: string): AgentAttemptError {
  return new AgentAttemptError('protocol', `agent ${name} answered with JSON nesting deeper than ${MAX_JSON_DEPTH} levels`);
}

/** A non-2xx answer, classified; a little of its body explains it (agents put the reason there). */
async function refusal(x: AgentExchange, res: Response): Promise<AgentAttemptError> {
  const said = (await readSome(res, 300)).trim();
  const wait = retryAfterMs(res.headers, x.clock);
  return new AgentAttemptError('status', `agent ${x.name} answered ${res.status}${said ? `: ${said}` : ''}`, {
    status: res.status,
    ...(wait === undefined ? {} : { retryAfterMs: wait }),
  });
}

/** A thrown error, classified; the caller's own cancel is passed on as it is (not the agent's failure). */
export function failure(x: AgentExchange, err: unknown): unknown {
  if (err instanceof AgentAttemptError || err instanceof AgentCallError) return err;
  if (x.signal.aborted && !(isHubError(err) && err.code === 'provider_timeout')) return err;
  // The answer arrived in an encoding that does not decode: the agent's fault, not the connection's.
  const zlib = zlibCode(err);
  if (zlib !== undefined)
    return new AgentAttemptError('protocol', `agent ${x.name} answered with a body its Content-Encoding does not decode (${zlib})`, { cause: err });
  if (isHubError(err)) {
    if (err.code === 'provider_timeout') return new AgentAttemptError('timeout', err.message, { cause: err });
    if (err.code === 'provider_unreachable') return transport(x, err, err.message);
    return new AgentAttemptError('protocol', err.message, { cause: err });
  }
  return transport(x, err, `agent ${x.name}: ${describeError(err)}`);
}

/** The zlib error code (Z_DATA_ERROR, Z_BUF_ERROR, …) under a failure, when decoding the body failed. */
function zlibCode(err: unknown): string | undefined {
  return errorCodesUnder(err).find((code) => code.startsWith('Z_'));
}

/**
 * A connection that failed. One never made is the agent not reached (and is retried); one that
 * broke after the request went out is not retried because the agent may have the task (policy.ts),
 * and its message says so: "could not be reached" would tell the caller nothing started.
 */
function transport(x: AgentExchange, err: unknown, unreached: string): AgentAttemptError {
  if (neverConnected(err)) return new AgentAttemptError('transport', unreached, { cause: err, sent: false });
  const why = rootCause(err);
  return new AgentAttemptError('transport', `the connection to agent ${x.name} broke after the request was sent${why ? ` (${why})` : ''}${notResent(x.name)}`, {
    cause: err,
    sent: true,
  });
}

/**
 * What a failure after the request went out adds: the agent may have the task (a stream it cut
 * before its end, a connection that broke), so it was not sent again and a caller who retries may
 * run it twice. "Retryable" in its code says only that the agent may answer a later call.
 */
export function notResent(name: string): string {
  return `; agent ${name} may be running the task, so it was not sent again`;
}

/** The innermost error's words (fetch's own "fetch failed" says nothing of what happened). */
function rootCause(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 5; depth++) e = e.cause;
  return e instanceof Error ? e.message || (e as NodeJS.ErrnoException).code : undefined;
}

/** Failures before a connection carried anything: the name did not resolve, nothing listened, no route, TLS refused. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);
const TLS_REFUSED = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/**
 * Whether the request surely never reached the agent, from the system error under the failure.
 * Anything else (a reset after the request went out, a cut answer) may have started the task: a
 * second attempt could run it twice, as a timeout could.
 */
function neverConnected(err: unknown): boolean {
  return errorCodesUnder(err).some((code) => NOT_CONNECTED.has(code) || TLS_REFUSED.test(code));
}

/**
 * Errors of a request refused before it was sent: Node's checks of header names and values, and
 * undici's of its arguments. The Headers constructor (WHATWG Fetch) refuses a value past U+00FF
 * ("Cannot convert argument to a ByteString …") or with a line break ("… is an invalid header
 * value") with a TypeError of no code, told apart by its words: other TypeErrors without a cause
 * (a body cut short after the headers, "terminated: …") come after the request was sent.
 */
const NOT_BUILT = new Set(['ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE', 'UND_ERR_INVALID_ARG']);
const HEADER_REFUSED = /to a ByteString|is an invalid header (value|name)/;

function neverBuilt(err: unknown): boolean {
  if (errorCodesUnder(err).some((code) => NOT_BUILT.has(code))) return true;
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && e.cause !== undefined && depth < 5; depth++) e = e.cause;
  return e instanceof TypeError && e.cause === undefined && HEADER_REFUSED.test(e.message);
}

/**
 * A request the hub could not make: its own config's fault, not the agent's, so no attempt is
 * retried and the breaker is told nothing (policy.ts). The error's words are not passed on: fetch's
 * say the header value, a secret.
 */
function unbuilt(x: AgentExchange): AgentCallError {
  return new AgentCallError(
    x.name,
    'config',
    `the hub could not make the request to agent ${x.name}, so nothing was sent: a header holds a character HTTP cannot carry; check the key and headers configured for agents.${x.name}`,
  );
}

import type { WreckHttpOptions } from 'simple-oauth2';
import { z } from 'zod';
import type { TokenSet } from '../connections/types.js';
import { parseExact } from '../definition/exact-json.js';
import { parseRetryAfter } from '../providers/answer-outcome.js';
import { OAuthGrantError, OAuthTransientError } from './token-errors.js';

/*
 * How a token endpoint's answer is read, one way for a code redemption and a refresh alike: the
 * body's bytes as a JSON object whatever its Content-Type, an error sent with 200 as the error it
 * names, and a refusal or failure (wreck's errors) as a grant error or a transient one.
 */

/**
 * The most a token endpoint's answer may be. A token response is a few kilobytes even with JWT
 * access tokens (RFC 9068) and an OpenID id_token; whatever passes is sealed and stored, so a
 * runaway answer would fill the store. Past the cap the read stops and nothing is kept.
 */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/**
 * An optional member sent as `null` (or, for a refresh token, as `""`) is one not sent: servers
 * that serialise every field of their response type write absent ones so. Refusing the answer
 * for it failed the link, or, after a refresh, dropped a token set the provider had just issued
 * (the old refresh token possibly spent) and sent the account to needs_reauth.
 */
const absentWhen =
  (...empty: unknown[]) =>
  (v: unknown) =>
    v === null || empty.includes(v) ? undefined : v;

/**
 * RFC 6749 §5.1. Numbers arrive as strings from some providers, hence the coercion. An
 * `expires_in` of 0 names no lifetime the hub can plan a refresh by: the expiry is unknown, and
 * the token is used until the API answers 401 (then refreshed), as when it is absent.
 */
const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.preprocess(absentWhen(''), z.string().default('Bearer')),
  expires_in: z.preprocess(absentWhen('', 0, '0'), z.coerce.number().positive().optional()),
  refresh_token: z.preprocess(absentWhen(''), z.string().min(1).optional()),
  scope: z.preprocess(absentWhen(), z.string().optional()),
});

/**
 * A body's bytes as text, a leading UTF-8 byte order mark dropped (RFC 8259 §8.1 lets a reader
 * ignore it), as TextDecoder does: servers on IIS/ASP.NET put one before their JSON, and read with
 * it the answer was no JSON, so a link failed and a refresh dropped the tokens it had just issued.
 */
export function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * A successful token answer's bytes read as JSON, integers past 2^53 kept (parseExact). Not JSON,
 * or not an object, is an answer no retry improves, as one that does not validate.
 */
export function tokenBody(body: unknown): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = Buffer.isBuffer(body) ? parseExact(utf8Text(body)) : undefined;
  } catch {
    // not JSON: refused below
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new OAuthGrantError('invalid_token_response', 'the token endpoint answered without a JSON object', 200, { named: false });
  return parsed as Record<string, unknown>;
}

/**
 * The token set a token answer gives, once it is read (tokenBody): an error sent with 200 is the
 * error it names, and a set without its `access_token` is no set. The old refresh token is kept
 * when the answer carries none (RFC 6749 §6); `now` dates the expiry, unknown without `expires_in`.
 */
export function tokenSetOf(raw: Record<string, unknown>, previousRefresh: string | undefined, now: number): TokenSet {
  const refused = errorIn2xx(raw);
  if (refused) throw refused;
  const r = tokenResponse.safeParse(raw);
  if (!r.success)
    throw new OAuthGrantError('invalid_token_response', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 200, { named: false });
  const t = r.data;
  const refreshToken = t.refresh_token ?? previousRefresh;
  return {
    accessToken: t.access_token,
    tokenType: t.token_type,
    ...(refreshToken ? { refreshToken } : {}),
    ...(t.scope ? { scope: t.scope } : {}),
    ...(t.expires_in ? { expiresAt: now + t.expires_in * 1000, obtainedAt: now } : {}),
  };
}

/** A 2xx token answer that is an error all the same: GitHub's `{"error":…}`, Slack's `{"ok":false,"error":…}`. */
const errorBody2xx = z.looseObject({
  error: z.string().min(1),
  error_description: z.string().optional(),
  ok: z.literal(false).optional(),
  access_token: z.undefined().optional(),
});

/** Errors in such answers that say "not now" (Slack's Web API names), not that the grant is dead. */
const TRANSIENT_2XX = new Set(['temporarily_unavailable', 'ratelimited', 'request_timeout', 'service_unavailable', 'internal_error', 'fatal_error']);

/**
 * Providers that answer errors with HTTP 200 (FACTS.md) name them in `error`: read it as the
 * OAuth error it is rather than as a token response missing its `access_token`.
 */
function errorIn2xx(raw: Record<string, unknown>): OAuthGrantError | OAuthTransientError | undefined {
  const e = errorBody2xx.safeParse(raw);
  if (!e.success) return undefined;
  const { error, error_description: description } = e.data;
  if (TRANSIENT_2XX.has(error))
    return new OAuthTransientError(`token endpoint answered 200 with ${error}${description ? `: ${description}` : ''}`, 200, undefined);
  return new OAuthGrantError(error, description, 200);
}

const boomShape = z.object({
  output: z.object({ statusCode: z.number() }).optional(),
  data: z
    .object({
      /** Set by wreck on the error it makes of a 4xx/5xx answer; absent when reading the answer failed. */
      isResponseError: z.boolean().optional(),
      payload: z.unknown().optional(),
      res: z
        .object({
          statusCode: z.number().optional(),
          headers: z.record(z.string(), z.unknown()).optional(),
          socket: z.object({ bytesRead: z.number() }).nullish(),
        })
        .optional(),
    })
    .nullish(),
});
/** An OAuth error answer (RFC 6749 §5.2, RFC 7009 §2.2.1). */
export const oauthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });

/** A 3xx from the token endpoint, stopped before wreck follows it. */
class RedirectAnswer extends Error {
  constructor(readonly status: number) {
    super(`token endpoint answered ${status}`);
  }
}

/**
 * simple-oauth2 hands back the body of any answer under 400 without its status, so with `json:
 * false` a redirect would read as a token answer without JSON, at 200: for a refresh, a refusal that
 * ends the grant. Asked to follow one redirect, wreck shows each it would follow (301, 302, 303,
 * 307, 308) to beforeRedirect first, which stops it there: the code or refresh token and the client
 * credentials go nowhere else, and classify sees the status.
 */
export const STOP_REDIRECTS: Pick<WreckHttpOptions, 'redirects' | 'redirect303' | 'beforeRedirect'> = {
  redirects: 1,
  redirect303: true,
  // wreck's next takes the error that stops the redirect; its typings leave the argument out.
  beforeRedirect: (_method, status, _location, _headers, _options, next) => (next as (err: Error) => void)(new RedirectAnswer(status)),
};

/**
 * Turns wreck/Boom errors into grant errors (permanent) or transient ones, the original kept as
 * `cause`. `now` (the hub's clock) reads a Retry-After given as a date.
 */
export function classify(err: unknown, now: number, maxBytes = MAX_TOKEN_RESPONSE_BYTES): OAuthGrantError | OAuthTransientError {
  if (err instanceof OAuthGrantError || err instanceof OAuthTransientError) return err;
  // wreck makes what beforeRedirect stopped with its 502 "Invalid redirect" (Boom.boomify).
  if (err instanceof RedirectAnswer)
    return new OAuthGrantError('invalid_token_response', `token endpoint answered ${err.status}, a redirect, not followed`, err.status, {
      cause: err,
      named: false,
    });
  const shape = boomShape.safeParse(err);
  // Only a real response has a status: Boom gives a dropped connection a 502 of its own making.
  const status = shape.success ? shape.data.data?.res?.statusCode : undefined;
  if (status === undefined)
    return new OAuthTransientError(`token endpoint unreachable: ${(err as Error).message ?? String(err)}`, undefined, undefined, { cause: err });
  // wreck reads the body after the status line, and a failure doing so carries the response too:
  // then the status is not the answer, and the error's own status says what went wrong.
  const readFailed = shape.success && shape.data.data?.isResponseError !== true;
  const own = shape.success ? shape.data.output?.statusCode : undefined;
  // wreck 18 stops reading past maxBytes by destroying the response, whose 'aborted' event reports
  // first, as the 500 of a dropped connection ("Payload stream closed prematurely") rather than its
  // 413: the bytes the socket read tell the two apart.
  const bytesRead = shape.success ? (shape.data.data?.res?.socket?.bytesRead ?? 0) : 0;
  const tooLarge = readFailed && (own === 413 || (own === 500 && bytesRead > maxBytes));
  // 408 is wreck's read timeout, 500 a body cut off by a dropped connection: no answer came.
  if (readFailed && !tooLarge && (own === 408 || own === 500))
    return new OAuthTransientError(`token endpoint stopped answering: ${(err as Error).message}`, undefined, undefined, { cause: err });
  let payload = shape.success ? shape.data.data?.payload : undefined;
  if (Buffer.isBuffer(payload)) {
    try {
      payload = JSON.parse(utf8Text(payload));
    } catch {
      // not JSON: leave it as it is
    }
  }
  const body = oauthErrorBody.safeParse(payload);
  if (status === 429 || status >= 500) {
    const ra = shape.success ? shape.data.data?.res?.headers?.['retry-after'] : undefined;
    // Delay-seconds or an HTTP-date (RFC 9110 §10.2.3), read as the provider client and the outbox read it.
    const retryAfterMs = parseRetryAfter(typeof ra === 'string' ? ra : undefined, now);
    return new OAuthTransientError(`token endpoint answered ${status}`, status, retryAfterMs, { cause: err });
  }
  // A success whose body cannot be read is an answer no retry improves: as unusable as one that
  // does not validate (tokenSetOf), and after a refresh the old refresh token may be spent.
  if (tooLarge && status < 400)
    return new OAuthGrantError('invalid_token_response', `the token response is over ${maxBytes} bytes`, status, { cause: err, named: false });
  if (body.success) return new OAuthGrantError(body.data.error, body.data.error_description, status, { cause: err });
  if (status < 400)
    return new OAuthGrantError('invalid_token_response', `token endpoint answered ${status} without a JSON body`, status, { cause: err, named: false });
  return new OAuthGrantError('invalid_request', `token endpoint answered ${status}`, status, { cause: err, named: false });
}

import type { AuthorizationCode, ModuleOptions, WreckHttpOptions } from 'simple-oauth2';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { TokenSet } from '../connections/types.js';
import { parseExact } from '../definition/exact-json.js';
import { HubError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';

export interface OAuthEndpoints {
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl?: string | undefined;
  clientId: string;
  /** A function is read when the client first talks to the provider (a hosted client's secret is loaded at start). */
  clientSecret: string | (() => string);
  scopes: string[];
  scopeSeparator?: string;
  /** How the client authenticates at the token endpoint (RFC 6749 §2.3.1). */
  tokenAuth?: 'basic' | 'body';
  extraAuthorizeParams?: Record<string, string>;
}

// simple-oauth2 (and joi, which it loads) is required on first use: a stdio start should not pay for it.
const simpleOAuth2 = lazyRequire<typeof import('simple-oauth2')>('simple-oauth2');

/**
 * The most a token endpoint's answer may be. A token response is a few kilobytes even with JWT
 * access tokens (RFC 9068) and an OpenID id_token; whatever passes is sealed and stored, so a
 * runaway answer would fill the store. Past the cap the read stops and nothing is kept.
 */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** RFC 6749 §5.1. Numbers arrive as strings from some providers, hence the coercion. */
const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().default('Bearer'),
  expires_in: z.coerce.number().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
});

/** A redeemed authorization code: the token set kept, and the response it was read from (never stored). */
export interface CodeExchange {
  tokens: TokenSet;
  response: Readonly<Record<string, unknown>>;
}

/**
 * The token endpoint refused the request or gave an answer no retry improves (RFC 6749 §5.2). Most
 * such refusals of a refresh mean the grant is dead, and only a new link can fix it; those about
 * the hub's client or its configuration do not (src/oauth/refusal.ts tells them apart).
 */
export class OAuthGrantError extends HubError {
  /** False when `error` is the hub's name for an answer that named none (no OAuth error body). */
  readonly named: boolean;

  constructor(
    readonly error: string,
    readonly description: string | undefined,
    readonly status: number,
    options: { cause?: unknown; named?: boolean } = {},
  ) {
    const { named = true, ...rest } = options;
    super('oauth_grant_rejected', `${error}${description ? `: ${description}` : ''}`, { ...rest, details: { error, status } });
    this.name = 'OAuthGrantError';
    this.named = named;
  }
}

/**
 * A refresh asked of a connection the provider issued no refresh token for (GitHub OAuth Apps: no
 * expiry, no refresh token). Nothing is sent to the token endpoint, so no OAuth error is reported
 * as its answer: only a new link gets a new access token.
 */
export class NoRefreshTokenError extends HubError {
  constructor() {
    super('connection_needs_reauth', 'no refresh token was issued for this connection, so no new access token can be had without linking again');
    this.name = 'NoRefreshTokenError';
  }
}

/** The endpoint could not be reached or failed on its side (network, 5xx, 429): worth retrying. */
export class OAuthTransientError extends HubError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super('oauth_endpoint_unavailable', message, { ...options, ...(status === undefined ? {} : { details: { status } }) });
    this.name = 'OAuthTransientError';
  }
}

/**
 * simple-oauth2 with its defects wrapped (FACTS.md, OAuth):
 * 1. a refresh response without `refresh_token` would leave the stored one undefined — we keep the old one (RFC 6749 §6);
 * 2. `revoke()` fails with 406 on the spec-normal empty 200 body (RFC 7009 §2.2) and counts a 3xx as success — we revoke with fetch;
 * 3. `expired()` is always false without `expires_in` — we never use it; expiry is ours, from an injected clock,
 *    and unknown expiry means "valid until the API answers 401".
 * It has no PKCE helpers: challenge and verifier are passed through as extra parameters.
 */
export class OAuthClient {
  private readonly options: ModuleOptions;
  private grantValue: AuthorizationCode | undefined;
  private redeemGrantValue: AuthorizationCode | undefined;
  /**
   * The whole revocation URL, as configured: RFC 7009 and RFC 8414 put it wherever the provider
   * likes, and some put it on another host than the token endpoint (Intuit: token at
   * oauth.platform.intuit.com, revocation at developer.api.intuit.com).
   */
  private readonly revokeUrl: URL | undefined;
  private readonly http: WreckHttpOptions;

  constructor(
    private readonly endpoints: OAuthEndpoints,
    private readonly clock: Clock,
    http: WreckHttpOptions = {},
  ) {
    // wreck counts the body as it arrives and stops past maxBytes, so no more than that is read.
    this.http = { timeout: 15_000, ...http, maxBytes: http.maxBytes ?? MAX_TOKEN_RESPONSE_BYTES };
    const token = new URL(endpoints.tokenUrl);
    const authorize = new URL(endpoints.authorizeUrl);
    this.revokeUrl = endpoints.revokeUrl ? new URL(endpoints.revokeUrl) : undefined;
    const secret = endpoints.clientSecret;
    this.options = {
      client: {
        id: endpoints.clientId,
        // A getter: simple-oauth2 reads it on first use, after the hub has loaded its keys.
        get secret() {
          return typeof secret === 'string' ? secret : secret();
        },
      },
      auth: {
        tokenHost: token.origin,
        tokenPath: token.pathname + token.search,
        authorizeHost: authorize.origin,
        authorizePath: authorize.pathname + authorize.search,
      },
      options: {
        authorizationMethod: endpoints.tokenAuth === 'body' ? 'body' : 'header',
        scopeSeparator: endpoints.scopeSeparator ?? ' ',
      },
    };
  }

  private get grant(): AuthorizationCode {
    this.grantValue ??= new (simpleOAuth2().AuthorizationCode)(this.options);
    return this.grantValue;
  }

  /**
   * The grant code redemption uses: asked with `json: false`, whose answer getToken hands to
   * createToken as the body's bytes, kept as they are. The account id a definition reads off the
   * token response (`token:team.id`) must keep its digits past 2^53, and wreck's JSON.parse rounds them.
   */
  private get redeemGrant(): AuthorizationCode {
    if (this.redeemGrantValue === undefined) {
      const grant = new (simpleOAuth2().AuthorizationCode)(this.options);
      (grant as unknown as { createToken: (raw: unknown) => unknown }).createToken = (raw) => raw;
      this.redeemGrantValue = grant;
    }
    return this.redeemGrantValue;
  }

  authorizeUrl(p: { redirectUri: string; state: string; codeChallenge: string }): string {
    const params: Parameters<AuthorizationCode['authorizeURL']>[0] & Record<string, string | string[]> = {
      ...this.endpoints.extraAuthorizeParams,
      redirect_uri: p.redirectUri,
      scope: this.endpoints.scopes,
      state: p.state,
      code_challenge: p.codeChallenge,
      code_challenge_method: 'S256',
    };
    if (this.endpoints.scopes.length === 0) delete params.scope;
    return this.grant.authorizeURL(params);
  }

  async exchangeCode(p: { code: string; redirectUri: string; codeVerifier: string }): Promise<TokenSet> {
    return (await this.redeemCode(p)).tokens;
  }

  /** The token set and the token response it came from (some providers name the account there, e.g. Slack's `team.id`). */
  async redeemCode(p: { code: string; redirectUri: string; codeVerifier: string }): Promise<CodeExchange> {
    const params = { code: p.code, redirect_uri: p.redirectUri, code_verifier: p.codeVerifier };
    const body: unknown = await this.call(() => this.redeemGrant.getToken(params, { ...this.http, json: false }));
    const raw = tokenBody(body);
    return { tokens: this.toTokenSet(raw, undefined), response: raw };
  }

  /** Refreshes; the old refresh token is kept when the response carries none (RFC 6749 §6). */
  async refresh(current: TokenSet): Promise<TokenSet> {
    // Not an invalid_grant: the provider was not asked, and said nothing.
    if (!current.refreshToken) throw new NoRefreshTokenError();
    const token = this.grant.createToken({ access_token: current.accessToken, refresh_token: current.refreshToken, token_type: current.tokenType });
    const next = await this.call(() => token.refresh({}, this.http));
    return this.toTokenSet(next.token, current.refreshToken);
  }

  /**
   * RFC 7009 revocation. Only a 200 says the token was revoked (or was already invalid, §2.2): any
   * other answer throws, so the caller does not report as revoked tokens the provider still honours.
   * Sent with fetch, not simple-oauth2, whose wreck returns only the body of any answer under 400 —
   * a 302 to a login page would read as success. False when the provider has no revocation endpoint.
   */
  async revoke(tokens: TokenSet): Promise<boolean> {
    if (!this.revokeUrl) return false;
    // Revoking the refresh token ends the grant at providers that rotate; revoke the access token as well where there is none.
    const hint = tokens.refreshToken ? 'refresh_token' : 'access_token';
    const form = new URLSearchParams({ token: tokens.refreshToken ?? tokens.accessToken, token_type_hint: hint });
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
    const { clientId, clientSecret } = this.endpoints;
    const secret = typeof clientSecret === 'string' ? clientSecret : clientSecret();
    // Client authentication as at the token endpoint (RFC 7009 §2.1, RFC 6749 §2.3.1).
    if (this.endpoints.tokenAuth === 'body') {
      form.set('client_id', clientId);
      form.set('client_secret', secret);
    } else headers.authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64')}`;
    let res: Response;
    let body: string;
    try {
      // The client credentials go only where the config sends them. A redirect is not followed: it
      // would carry them and the token elsewhere, and it is no revocation.
      const signal = AbortSignal.timeout(Number(this.http.timeout ?? 15_000));
      res = await fetch(this.revokeUrl, { method: 'POST', headers, body: form, redirect: 'manual', signal });
      body = res.status === 200 ? '' : await readCapped(res, this.http.maxBytes ?? MAX_TOKEN_RESPONSE_BYTES);
      if (res.status === 200) await res.body?.cancel();
    } catch (err) {
      throw new OAuthTransientError(`revocation endpoint unreachable: ${(err as Error).message ?? String(err)}`, undefined, undefined, { cause: err });
    }
    if (res.status === 200) return true;
    if (res.status === 429 || res.status >= 500) throw new OAuthTransientError(`revocation endpoint answered ${res.status}`, res.status, undefined);
    const refusal = oauthErrorBody.safeParse(parseOrUndefined(body));
    if (res.status >= 400 && refusal.success) throw new OAuthGrantError(refusal.data.error, refusal.data.error_description, res.status);
    throw new OAuthGrantError('revocation_not_confirmed', `revocation endpoint answered ${res.status}, not 200`, res.status, { named: false });
  }

  private toTokenSet(raw: Record<string, unknown>, previousRefresh: string | undefined): TokenSet {
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
      ...(t.expires_in ? { expiresAt: this.clock.now() + t.expires_in * 1000, obtainedAt: this.clock.now() } : {}),
    };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(err, this.http.maxBytes);
    }
  }
}

/**
 * A successful token answer's bytes read as JSON, integers past 2^53 kept (parseExact). Not JSON,
 * or not an object, is an answer no retry improves, as one that does not validate.
 */
function tokenBody(body: unknown): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = Buffer.isBuffer(body) ? parseExact(body.toString('utf8')) : undefined;
  } catch {
    // not JSON: refused below
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new OAuthGrantError('invalid_token_response', 'the token endpoint answered without a JSON object', 200, { named: false });
  return parsed as Record<string, unknown>;
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
const oauthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() });

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

/** RFC 6749 Appendix B form-urlencoding of Basic credentials, as simple-oauth2 does for the token endpoint. */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A refusal's body, read no further than `max` bytes: it is only searched for an OAuth error. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > max) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Turns wreck/Boom errors into grant errors (permanent) or transient ones, the original kept as `cause`. */
export function classify(err: unknown, maxBytes = MAX_TOKEN_RESPONSE_BYTES): OAuthGrantError | OAuthTransientError {
  if (err instanceof OAuthGrantError || err instanceof OAuthTransientError) return err;
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
      payload = JSON.parse(payload.toString('utf8'));
    } catch {
      // not JSON: leave it as it is
    }
  }
  const body = oauthErrorBody.safeParse(payload);
  if (status === 429 || status >= 500) {
    const ra = shape.success ? shape.data.data?.res?.headers?.['retry-after'] : undefined;
    const seconds = typeof ra === 'string' ? Number(ra) : NaN;
    return new OAuthTransientError(`token endpoint answered ${status}`, status, Number.isFinite(seconds) ? seconds * 1000 : undefined, { cause: err });
  }
  // A success whose body cannot be read is an answer no retry improves: as unusable as one that
  // does not validate (toTokenSet), and after a refresh the old refresh token may be spent.
  if (tooLarge && status < 400)
    return new OAuthGrantError('invalid_token_response', `the token response is over ${maxBytes} bytes`, status, { cause: err, named: false });
  if (body.success) return new OAuthGrantError(body.data.error, body.data.error_description, status, { cause: err });
  if (status < 400)
    return new OAuthGrantError('invalid_token_response', `token endpoint answered ${status} without a JSON body`, status, { cause: err, named: false });
  return new OAuthGrantError('invalid_request', `token endpoint answered ${status}`, status, { cause: err, named: false });
}

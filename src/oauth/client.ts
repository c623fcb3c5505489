import type { AuthorizationCode, ModuleOptions, WreckHttpOptions } from 'simple-oauth2';
import type { Clock } from '../clock.js';
import type { TokenSet } from '../connections/types.js';
import { lazyRequire } from '../lazy-require.js';
import { classify, MAX_TOKEN_RESPONSE_BYTES, oauthErrorBody, STOP_REDIRECTS, tokenBody, tokenSetOf, utf8Text } from './token-answer.js';
import { NoRefreshTokenError, OAuthGrantError, OAuthTransientError } from './token-errors.js';

// The client's errors and cap, named where its callers look for them.
export { MAX_TOKEN_RESPONSE_BYTES } from './token-answer.js';
export { NoRefreshTokenError, OAuthGrantError, OAuthTransientError } from './token-errors.js';

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

/** A redeemed authorization code: the token set kept, and the response it was read from (never stored). */
export interface CodeExchange {
  tokens: TokenSet;
  response: Readonly<Record<string, unknown>>;
}

/** simple-oauth2's getToken once its createToken hands back what it is given: the answer's body. */
interface TokenPoster {
  getToken(params: Record<string, string>, http: WreckHttpOptions): Promise<unknown>;
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
  private tokenGrantValue: TokenPoster | undefined;
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
   * The grant every token request goes through: asked with `json: false`, whose answer getToken
   * hands to createToken as the body's bytes, kept as they are, so that every answer is read one
   * way (tokenBody), whatever its Content-Type. The account id a definition reads off the token
   * response (`token:team.id`) must keep its digits past 2^53, and wreck's JSON.parse rounds them;
   * and some token endpoints send their JSON as text/plain, which wreck's default `json: 'strict'`
   * refuses — after a refresh, with the old refresh token already spent.
   */
  private get tokenGrant(): TokenPoster {
    if (this.tokenGrantValue === undefined) {
      const grant = new (simpleOAuth2().AuthorizationCode)(this.options);
      (grant as unknown as { createToken: (raw: unknown) => unknown }).createToken = (raw) => raw;
      this.tokenGrantValue = grant as unknown as TokenPoster;
    }
    return this.tokenGrantValue;
  }

  /**
   * One request to the token endpoint, its answer read as a JSON object. simple-oauth2 lets the
   * parameters given set `grant_type` over getToken's own `authorization_code`, so a refresh is
   * sent with this grant as well: the same client authentication and the same reading.
   */
  private async tokenRequest(params: Record<string, string>): Promise<Record<string, unknown>> {
    return tokenBody(await this.call(() => this.tokenGrant.getToken(params, { ...this.http, ...STOP_REDIRECTS, json: false })));
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
    try {
      const raw = await this.tokenRequest({ code: p.code, redirect_uri: p.redirectUri, code_verifier: p.codeVerifier });
      return { tokens: tokenSetOf(raw, undefined, this.clock.now()), response: raw };
    } catch (err) {
      // The code is taken out where the failure is told (flows.ts), as "[code]".
      throw withoutSecrets(err, this.sentSecrets());
    }
  }

  /** Refreshes; the old refresh token is kept when the response carries none (RFC 6749 §6). */
  async refresh(current: TokenSet): Promise<TokenSet> {
    // Not an invalid_grant: the provider was not asked, and said nothing.
    if (!current.refreshToken) throw new NoRefreshTokenError();
    const refreshToken = current.refreshToken;
    try {
      const raw = await this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
      return tokenSetOf(raw, refreshToken, this.clock.now());
    } catch (err) {
      throw withoutSecrets(err, this.sentSecrets(refreshToken));
    }
  }

  /**
   * What the hub sent the provider that its error may quote back ("refresh token rt_… is invalid",
   * "client auth failed for Basic …"): the token, the client secret and the Basic credentials made
   * of it. A refusal's text becomes the tool result a model reads, the connection's stored reason
   * and log lines; after `invalid_client` the refresh token is still good. Short values are left,
   * as they would match ordinary words of the message.
   */
  private sentSecrets(token?: string): string[] {
    const { clientId, clientSecret } = this.endpoints;
    const secret = typeof clientSecret === 'string' ? clientSecret : clientSecret();
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64');
    return [token ?? '', secret, basic].filter((s) => s.length >= 8);
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
    if (res.status >= 400 && refusal.success)
      throw withoutSecrets(new OAuthGrantError(refusal.data.error, refusal.data.error_description, res.status), this.sentSecrets(form.get('token') ?? ''));
    throw new OAuthGrantError('revocation_not_confirmed', `revocation endpoint answered ${res.status}, not 200`, res.status, { named: false });
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(err, this.clock.now(), this.http.maxBytes);
    }
  }
}

/**
 * The error with every one of `secrets` taken out of its text. A changed error loses its cause,
 * which holds the answer's body as it came.
 */
function withoutSecrets(err: unknown, secrets: readonly string[]): unknown {
  const clean = (text: string) => secrets.reduce((t, s) => t.replaceAll(s, '[redacted]'), text);
  if (err instanceof OAuthGrantError) {
    const description = err.description === undefined ? undefined : clean(err.description);
    const error = clean(err.error);
    if (description === err.description && error === err.error) return err;
    return new OAuthGrantError(error, description, err.status, { named: err.named });
  }
  if (err instanceof OAuthTransientError) {
    const message = clean(err.message);
    return message === err.message ? err : new OAuthTransientError(message, err.status, err.retryAfterMs);
  }
  return err;
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
  return utf8Text(Buffer.concat(chunks));
}

/**
 * What the tests of the hub's authorization server share: an OAuth client provider for the MCP
 * SDKs (both lines take the same shape), kept in memory as a desktop client would keep it on
 * disk, and a browser that signs in on the hub's pages with a hub token and consents.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { hashId } from '../../src/auth/adapter.js';
import type { Db } from '../../src/store/db.js';
import { Browser } from '../fakes/browser.js';

/** Where the client says it receives the code; nothing listens there, the test reads the redirect. */
export const REDIRECT = 'http://127.0.0.1:9/callback';

export interface ClientInfo {
  client_id: string;
  client_secret?: string;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
}

/** The client side of the SDKs' `OAuthClientProvider`, in memory. */
export class MemoryOAuthClient {
  client: ClientInfo | undefined;
  saved: TokenSet | undefined;
  verifier = '';
  /** The authorization URL the SDK asked the user agent to open. */
  authorizationUrl: URL | undefined;
  readonly registrations: ClientInfo[] = [];

  constructor(readonly name = 'Test MCP client') {}

  get redirectUrl(): string {
    return REDIRECT;
  }

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): ClientInfo | undefined {
    return this.client;
  }

  saveClientInformation(info: ClientInfo): void {
    this.client = info;
    this.registrations.push(info);
  }

  tokens(): TokenSet | undefined {
    return this.saved;
  }

  saveTokens(tokens: TokenSet): void {
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(v: string): void {
    this.verifier = v;
  }

  codeVerifier(): string {
    return this.verifier;
  }

  /** The 2.x SDK binds the callback to the authorization server it discovered (SEP-2352). */
  private discovery: unknown;
  saveDiscoveryState(state: unknown): void {
    this.discovery = state;
  }
  discoveryState(): never {
    return this.discovery as never;
  }
}

export interface SignInOptions {
  /** Deny at the consent page instead of allowing. */
  deny?: boolean;
  browser?: Browser;
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

/** The form of a hub sign-in page: where it posts and its CSRF token. */
export function formOf(html: string): { action: string; csrf: string } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (action === undefined || csrf === undefined) throw new Error(`no sign-in form in ${html.slice(0, 600)}`);
  return { action: unescapeHtml(action), csrf: unescapeHtml(csrf) };
}

/** Opens `url` in `browser` and follows redirects to the first page: its HTML and where it is. */
export async function pageAfterRedirects(browser: Browser, url: URL | string): Promise<{ html: string; url: string }> {
  let at = new URL(url).href;
  let res = await browser.get(at);
  for (let i = 0; i < 6 && res.status >= 300 && res.status < 400; i++) {
    at = new URL(res.headers.get('location')!, at).href;
    await res.body?.cancel();
    res = await browser.get(at);
  }
  return { html: await res.text(), url: at };
}

/**
 * Opens the authorization URL as a browser does and walks the hub's pages: paste the hub token,
 * then allow (or deny). Returns the redirect to the client's callback, unopened, and the pages
 * seen, so a test can check what the user was shown.
 */
export async function signIn(authorizationUrl: URL | string, hubToken: string, opts: SignInOptions = {}): Promise<{ callback: URL; pages: string[] }> {
  const browser = opts.browser ?? new Browser();
  const pages: string[] = [];
  let url = new URL(authorizationUrl);
  let res = await browser.get(url.href);
  for (let step = 0; step < 12; step++) {
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (location === null) throw new Error(`redirect without a location from ${url.href}`);
      url = new URL(location, url);
      if (url.href.startsWith(REDIRECT)) return { callback: url, pages };
      res = await browser.get(url.href);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`${res.status} from ${url.href}: ${html.slice(0, 800)}`);
    pages.push(html);
    const form = formOf(html);
    const submit = new URL(form.action, url);
    if (submit.pathname.endsWith('/login')) res = await browser.post(submit.href, { csrf: form.csrf, token: hubToken });
    else res = await browser.post(submit.href, { csrf: form.csrf, decision: opts.deny ? 'deny' : 'allow' });
    url = submit;
  }
  throw new Error(`no redirect to the callback (last: ${url.href})`);
}

/**
 * Removes one access token from the hub's store, as the sweep does with an expired one: the token
 * stops working while its grant and refresh token live on.
 */
export function forgetAccessToken(db: Db, token: string): void {
  const gone = db.prepare("DELETE FROM oauth_as_records WHERE model = 'AccessToken' AND key = ?").run(hashId(token));
  if (gone.changes !== 1) throw new Error('no such access token in the store');
}

/** A token-endpoint request as a public client sends it. */
export async function tokenRequest(base: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The code exchange of a public client that registered REDIRECT (`extra`: more form fields, e.g. `resource`). */
export function exchangeCode(
  base: string,
  clientId: string,
  code: string,
  verifier: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return tokenRequest(base, { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT, code_verifier: verifier, ...extra });
}

/** RFC 7009 revocation by a public client. */
export async function revoke(base: string, clientId: string, token: string): Promise<number> {
  const res = await fetch(`${base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, token }),
  });
  await res.body?.cancel();
  return res.status;
}

/** A 2025-11-25 initialize POST with a bearer token, for status and challenge checks. */
export function initialize(url: string, token: string | undefined): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

/** RFC 7591 registration of a public client, as the SDKs send it. */
export async function register(base: string, name = 'Test client'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(new MemoryOAuthClient(name).clientMetadata),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An authorization URL of the hub's server; `params` overrides (undefined drops one). */
export function authorizeUrl(base: string, clientId: string, p: Pkce, params: Record<string, string | undefined> = {}): URL {
  const url = new URL(`${base}/authorize`);
  const all: Record<string, string | undefined> = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'mcp',
    state: 'st',
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    resource: `${base}/mcp`,
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

/** Follows the hub's redirects in `browser` from `res`; stops at a page or at the client's callback (REDIRECT), not followed. */
export async function followHub(browser: Browser, base: string, res: Response): Promise<Response> {
  let at = res;
  for (let i = 0; i < 6 && at.status === 303; i++) {
    const next = new URL(at.headers.get('location')!, base);
    if (next.href.startsWith(REDIRECT)) return at;
    await at.body?.cancel();
    at = await browser.get(next.href);
  }
  return at;
}

/** The whole flow without an SDK: register, sign in as the hub token's user, redeem the code. */
export async function obtainTokens(base: string, hubToken: string): Promise<{ clientId: string; tokens: TokenSet }> {
  const reg = await register(base);
  if (reg.status !== 201) throw new Error(`registration: ${reg.status} ${JSON.stringify(reg.body)}`);
  const clientId = String(reg.body['client_id']);
  const p = pkce();
  const { callback } = await signIn(authorizeUrl(base, clientId, p), hubToken);
  const code = callback.searchParams.get('code');
  if (code === null) throw new Error(`no code in ${callback.href}`);
  const res = await exchangeCode(base, clientId, code, p.verifier, { resource: `${base}/mcp` });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return { clientId, tokens: res.body as unknown as TokenSet };
}

/** How many records of one model (Interaction, SsoState, …) the authorization server holds in a data dir, read as another process would. */
export function asRecordCount(dataDir: string, model: string): number {
  const db = new Database(join(dataDir, 'switchboard.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM oauth_as_records WHERE model = ?').pluck().get(model) as number;
  } finally {
    db.close();
  }
}

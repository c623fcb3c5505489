/**
 * A real OAuth 2 authorization server (oidc-provider) with refresh-token rotation and reuse
 * detection, and next to it a small protected API that accepts only access tokens the server
 * still considers valid. Token-endpoint requests are counted by grant type as they are answered,
 * every token handed out is recorded, and a test can hold a token answer before it leaves.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ProviderContext } from 'oidc-provider';
import { z } from 'zod';
import { Browser } from './browser.js';

export interface OidcServerOptions {
  /**
   * The OAuth client's redirect URIs known at start; a hub on a port the OS picks is added with
   * `allowRedirectUri` once it listens.
   */
  redirectUris?: string[];
  clientId?: string;
  clientSecret?: string;
  /** Access token lifetime at the server, in seconds. */
  accessTokenTtl?: number;
  /** The verified email an account's UserInfo gives (default `login@acme.example`). */
  emailOf?: (login: string) => string;
}

export interface IssuedTokens {
  grantType: string;
  accessToken: string;
  refreshToken: string | undefined;
}

export interface ApiCall {
  path: string;
  status: number;
  token: string | undefined;
  account: string | undefined;
}

export interface OidcServer {
  /** Also the origin of every endpoint: the provider is mounted at the root. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  apiBaseUrl: string;
  /** Token-endpoint requests of this grant type answered so far, failures included. */
  tokenRequests(grantType: string): number;
  /** Requests that reached the revocation endpoint (RFC 7009). */
  revocations(): number;
  /** Every successful token response, in order. */
  readonly issued: readonly IssuedTokens[];
  readonly apiCalls: readonly ApiCall[];
  /** Every access and refresh token handed out so far. */
  tokens(): string[];
  /**
   * Awaited after the server has decided a token request (a refresh token is already rotated)
   * and before the answer is written, so a test can act "between the response and the commit".
   */
  holdTokenAnswer: ((grantType: string) => Promise<void> | void) | undefined;
  /**
   * Asked after the hold: true closes the connection instead of answering, as a network failure
   * after the server has acted would (a refresh token is then spent without the client knowing).
   */
  dropTokenAnswer: ((grantType: string) => boolean) | undefined;
  /** While set, the token endpoint answers 503 without looking at the request (an outage). */
  tokenEndpointDown: boolean;
  /** Token requests turned away by the outage. */
  outageRejections(): number;
  /** Makes the server forget one access token, as if it had expired there early; false if unknown. */
  forgetAccessToken(token: string): Promise<boolean>;
  /** Resolves with the HTTP status once the next answer of this grant type has been written out. */
  tokenAnswered(grantType: string): Promise<number>;
  /**
   * Runs the whole authorization-code flow with PKCE as a client would, without a hub: signs in
   * as `login`, approves, and redeems the code at `redirectUri` (one of the registered ones).
   */
  obtainTokens(login: string, redirectUri: string): Promise<TokenResponse>;
  /** Registers one more redirect URI of the client (exact match, as real providers check it). */
  allowRedirectUri(uri: string): Promise<void>;
  /** A `type: 'custom'` integration entry of the hub config that uses this server. */
  integration(): Record<string, unknown>;
  close(): Promise<void>;
}

const tokenBody = z.looseObject({ access_token: z.string(), refresh_token: z.string().optional() });
const tokenResponse = z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.string(), expires_in: z.number() });
export type TokenResponse = z.infer<typeof tokenResponse>;

/**
 * The accounts this server knows: any login is accepted, as devInteractions does. The email scope
 * gives `emailOf(login)`, verified; the server follows OpenID Connect Core §5.4 for the code flow
 * (oidc-provider's default), so it appears in UserInfo and not in the ID token.
 */
function accounts(emailOf: (login: string) => string) {
  return async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, email: emailOf(sub), email_verified: true }) });
}

interface ClientView {
  clientId: string;
  grantTypeAllowed(type: string): boolean;
}

export async function startOidcServer(opts: OidcServerOptions = {}): Promise<OidcServer> {
  const clientId = opts.clientId ?? 'switchboard-test';
  const clientSecret = opts.clientSecret ?? `cs_${randomBytes(24).toString('base64url')}`;
  let dispatch: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => dispatch(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    pkce: { required: () => true },
    // RFC 9700 §4.14.2: every refresh rotates, and presenting a spent refresh token revokes the grant.
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx: unknown, client: ClientView) => client.grantTypeAllowed('refresh_token'),
    // Refresh tokens outlive the browser session that created them, as with offline access.
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: opts.accessTokenTtl ?? 3600,
      IdToken: 3600,
      AuthorizationCode: 600,
      RefreshToken: 14 * 86_400,
      Interaction: 3600,
      Session: 86_400,
      Grant: 14 * 86_400,
    },
    features: {
      devInteractions: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: ClientView, token: { clientId: string }) => token.clientId === client.clientId,
      },
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: accounts(opts.emailOf ?? ((login) => `${login}@acme.example`)),
  });

  // The client is kept in the provider's store rather than its static list, so its redirect URIs can
  // grow after start: the provider rebuilds a stored client whenever its metadata changes.
  const redirectUris = [...(opts.redirectUris ?? [])];
  const registerClient = () =>
    provider.Client.adapter.upsert(clientId, {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
  if (redirectUris.length > 0) await registerClient();

  const counts = new Map<string, number>();
  let revoked = 0;
  let turnedAway = 0;
  const issued: IssuedTokens[] = [];
  const apiCalls: ApiCall[] = [];
  const waiters: { grantType: string; resolve: (status: number) => void }[] = [];

  const harness: OidcServer = {
    issuer,
    clientId,
    clientSecret,
    apiBaseUrl: `${issuer}/api`,
    tokenRequests: (grantType) => counts.get(grantType) ?? 0,
    revocations: () => revoked,
    issued,
    apiCalls,
    tokens: () => issued.flatMap((t) => (t.refreshToken ? [t.accessToken, t.refreshToken] : [t.accessToken])),
    holdTokenAnswer: undefined,
    dropTokenAnswer: undefined,
    tokenEndpointDown: false,
    outageRejections: () => turnedAway,
    async forgetAccessToken(token) {
      const at = await provider.AccessToken.find(token);
      await at?.destroy();
      return at !== undefined;
    },
    tokenAnswered: (grantType) => new Promise<number>((resolve) => waiters.push({ grantType, resolve })),
    async obtainTokens(login, redirectUri) {
      const verifier = randomBytes(32).toString('base64url');
      const authorize = new URL(`${issuer}/auth`);
      const params = {
        client_id: clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: 'openid',
        state: randomBytes(8).toString('base64url'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      };
      for (const [k, v] of Object.entries(params)) authorize.searchParams.set(k, v);
      const callback = new URL(await new Browser().authorize(authorize.href, { login, stopAt: (u) => u.href.startsWith(redirectUri) }));
      const code = callback.searchParams.get('code');
      if (code === null) throw new Error(`no code in ${callback.href}`);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
      });
      return tokenResponse.parse(await res.json());
    },
    async allowRedirectUri(uri) {
      if (!redirectUris.includes(uri)) redirectUris.push(uri);
      await registerClient();
    },
    integration: () => ({
      type: 'custom',
      title: 'Acme',
      oauth: {
        authorizeUrl: `${issuer}/auth`,
        tokenUrl: `${issuer}/token`,
        revokeUrl: `${issuer}/token/revocation`,
        issuer,
        clientId,
        clientSecret,
        scopes: ['openid'],
      },
      apiBaseUrl: `${issuer}/api`,
      tools: {
        list_things: { description: 'Lists the things in the Acme account', method: 'GET', path: '/things', readOnly: true },
      },
    }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };

  provider.use(async (ctx: ProviderContext, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/token/revocation') {
      revoked++;
      return;
    }
    if (ctx.path !== '/token') return;
    const raw = ctx.oidc?.body?.['grant_type'];
    const grantType = typeof raw === 'string' ? raw : 'unknown';
    counts.set(grantType, (counts.get(grantType) ?? 0) + 1);
    const body = tokenBody.safeParse(ctx.body);
    if (ctx.status === 200 && body.success) issued.push({ grantType, accessToken: body.data.access_token, refreshToken: body.data.refresh_token });
    ctx.res.once('finish', () => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.grantType !== grantType) continue;
        waiters.splice(i, 1);
        w.resolve(ctx.status);
      }
    });
    await harness.holdTokenAnswer?.(grantType);
    // Koa writes nothing to a destroyed socket: the client sees the connection close.
    if (harness.dropTokenAnswer?.(grantType)) ctx.req.socket.destroy();
  });

  const api = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let account: string | undefined;
    if (token !== undefined) {
      // find() returns nothing for unknown, expired or revoked tokens; a revoked grant ends them all.
      const at = await provider.AccessToken.find(token).catch(() => undefined);
      if (at && (await provider.Grant.find(at.grantId))) account = at.accountId;
    }
    if (account === undefined) {
      apiCalls.push({ path, status: 401, token, account });
      // RFC 6750 §3.1
      res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' })
        .end(JSON.stringify({ error: 'invalid_token' }));
      return;
    }
    const status = path === '/api/things' ? 200 : 404;
    apiCalls.push({ path, status, token, account });
    const body =
      status === 200
        ? {
            account,
            things: [
              { id: 1, name: 'anvil' },
              { id: 2, name: 'rocket skates' },
            ],
          }
        : { error: 'not_found' };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const oidc = provider.callback();
  dispatch = (req, res) => {
    if (harness.tokenEndpointDown && req.method === 'POST' && req.url === '/token') {
      turnedAway++;
      req.resume();
      // RFC 6749 §4.1.2.1 names temporarily_unavailable; Retry-After 0 keeps the client's retries quick.
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify({ error: 'temporarily_unavailable' }));
      return;
    }
    if ((req.url ?? '').startsWith('/api/')) {
      api(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    oidc(req, res);
  };
  return harness;
}

import { randomBytes } from 'node:crypto';
import Provider, { errors, interactionPolicy, type ProviderContext } from 'oidc-provider';
import type { Clock } from '../clock.js';
import type { Vault } from '../vault/vault.js';
import { hubAdapter } from './adapter.js';
import { answerOversizeAs413 } from './oversize-body.js';
import { checkingCodeResource } from './code-resource.js';
import { parseAccountId } from './account.js';
import type { AsKeys } from './keys.js';
import type { AsRecords } from './records.js';
import { escapeHtml } from '../http/html.js';
import { PAGE_HEADERS } from './pages.js';
import { documentPolicy, registrationPolicy } from './registration-policy.js';
import { AS_ROUTES, MCP_SCOPE, SIGN_IN_PATH, publicPathOf } from './routes.js';
import { STORE_RETRY_AFTER } from './store-unavailable.js';

export const TTL_SECONDS = {
  AccessToken: 3600,
  AuthorizationCode: 60,
  /** Sliding: each refresh rotates it and the new one lives this long again. */
  RefreshToken: 14 * 86_400,
  /** The consent itself: after this the user signs in and consents again. */
  Grant: 90 * 86_400,
  Session: 86_400,
  Interaction: 3600,
  IdToken: 3600,
} as const;

export interface ProviderDeps {
  issuer: string;
  /** The hub's protected resource, `<publicUrl>/mcp` (RFC 8707): the one tokens are issued for by default. */
  resource: string;
  /** Every name of that resource a token may be asked for: it, and on a loopback hub its localhost and [::1] names. */
  resources: readonly string[];
  keys: AsKeys;
  records: AsRecords;
  vault: Vault;
  clock: Clock;
  /** How Client ID Metadata Documents are fetched (src/auth/cimd-fetch.ts: HTTPS, SSRF-guarded). */
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** Whether the credential a browser session signed in with (its `amr`) still stands: a revoked hub token does not. */
  signInStands: (amr: readonly string[] | undefined) => Promise<boolean>;
  /** Whether the hub token a grant was signed in with (if one was) still stands: not revoked, not expired. */
  grantStands: (grantId: string) => Promise<boolean>;
}

interface ClientView {
  clientId: string;
  grantTypeAllowed(type: string): boolean;
}

/**
 * oidc-provider configured as the authorization server of one resource: authorization code with
 * PKCE (the library implements S256 only) for every client, refresh tokens rotated on each use
 * with reuse detection (a spent one revokes the grant, RFC 9700 §4.14.2), RFC 8707 resource
 * indicators with every access token bound to `/mcp` (a default when the client names none),
 * RFC 7009 revocation and RFC 7591 registration. Access tokens are opaque: /mcp looks them up
 * through the adapter, so a revoked grant stops working at once.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { resource, resources } = deps;
  // Behind a proxy that serves the hub under a path (server.ts), the browser is sent there.
  const signInPath = `${publicPathOf(deps.issuer)}${SIGN_IN_PATH}`;
  const provider = new Provider(deps.issuer, {
    // The code exchange's resource is checked as the code is looked up, before it is spent (code-resource.ts).
    adapter: checkingCodeResource(hubAdapter(deps), resource, resources),
    clients: [],
    async findAccount(_ctx: unknown, sub: string) {
      if (parseAccountId(sub) === undefined) return undefined;
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    scopes: ['openid', 'offline_access', MCP_SCOPE],
    responseTypes: ['code'],
    pkce: { required: () => true },
    // Rotated on every use. The resource asked for is checked here, before the library spends the
    // old token: it checks it only after, so a refresh naming another resource was refused and
    // still used the token up, and the client's next refresh ended the grant as a reuse.
    // Another loopback name of the granted resource (a client that signed in at 127.0.0.1 and now
    // reaches the hub as localhost) is the same resource: the refresh is for the granted name,
    // whose tokens /mcp takes under every loopback name. The library knows the grant's name only.
    // A grant signed in with a hub token that has expired (or been revoked) is refused here too,
    // before the token is spent: the grant lasts no longer than the credential that vouched for the user.
    rotateRefreshToken: async (ctx: {
      oidc: { params?: Record<string, unknown>; entities?: { RefreshToken?: { resource?: unknown; grantId?: string | undefined } } };
    }) => {
      const grantId = ctx.oidc.entities?.RefreshToken?.grantId;
      if (grantId !== undefined && !(await deps.grantStands(grantId)))
        throw new errors['InvalidGrant']!('the hub token this grant was signed in with has expired or been revoked; sign in again');
      const params = ctx.oidc.params;
      const asked = params?.['resource'];
      const named = asked === undefined ? [] : Array.isArray(asked) ? asked : [asked];
      if (named.some((r) => typeof r !== 'string' || !resources.includes(r)))
        throw new errors['InvalidTarget']!(`this server issues tokens for ${resource} only`);
      const granted = ctx.oidc.entities?.RefreshToken?.resource;
      if (params && typeof asked === 'string' && typeof granted === 'string' && asked !== granted && resources.includes(granted)) params['resource'] = granted;
      return true;
    },
    // Refresh tokens for every client that registered the grant type, whether or not it asked for
    // offline_access: MCP clients keep a session across restarts and ask for the resource scope only.
    issueRefreshToken: async (_ctx: unknown, client: ClientView) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    ttl: TTL_SECONDS,
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256',
    },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
    jwks: { keys: [deps.keys.signing] },
    // The sign-in session's cookie goes to the hub only: under its path behind a proxy, where
    // another app (or another hub) on the same host would otherwise get it, or overwrite it.
    cookies: { keys: deps.keys.cookies, long: { path: publicPathOf(deps.issuer) || '/' } },
    routes: AS_ROUTES,
    // Whatever the library fetches for a client (its metadata document, a jwks_uri, a sector
    // identifier) goes through the guarded fetch, in place of the library's own dispatcher.
    fetch: (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _library, ...rest } = init;
      return deps.fetch(url, rest);
    },
    // CORS for browser-based public clients: only from the origin of one of their redirect URIs
    // (the library's default, stated so it is a decision and not a start-up warning).
    clientBasedCORS: (_ctx: unknown, origin: string, client: { clientAuthMethod: string; redirectUris: string[] }) =>
      origin !== 'null' && client.clientAuthMethod === 'none' && client.redirectUris.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${signInPath}/${interaction.uid}`, policy: signInPolicy(deps.signInStands) },
    // RFC 7591 registration beyond the library's checks (registration-policy.ts). The library calls
    // a validator for each declared extra property only; `software_id` (RFC 7591 §2) carries it.
    extraClientMetadata: {
      properties: ['software_id', 'software_version'],
      validator(ctx: { oidc?: { route?: string; body?: unknown } } | undefined, key: string, _value: unknown, metadata: Record<string, unknown>) {
        if (key !== 'software_id') return;
        const refused = ctx?.oidc?.route === 'registration' ? registrationPolicy(ctx.oidc.body, metadata) : documentPolicy(metadata);
        // The library answers `invalid_redirect_uri` for a message about redirect_uris, else `invalid_client_metadata`.
        if (refused) throw new errors['InvalidClientMetadata']!(refused.message);
      },
    },
    features: {
      devInteractions: { enabled: false },
      // DPoP (RFC 9449) is on in the library by default, but /mcp checks bearer tokens only: a
      // DPoP-bound token would be accepted there without its proof. Off, nothing advertises it.
      dPoP: { enabled: false },
      userinfo: { enabled: false },
      // Signing out of the hub's sign-in session is not offered: the session only carries a consent step.
      rpInitiatedLogout: { enabled: false },
      // Pushed authorization requests (RFC 9126) are on in the library by default, but the hub
      // routes only AS_ROUTES: advertising an endpoint that answers 404 would break the clients
      // that use PAR whenever it is offered. MCP's authorization profile does not call for it.
      pushedAuthorizationRequests: { enabled: false },
      // Client ids get a prefix: the library's bare nanoid may begin with '-', which a user then
      // cannot pass to `switchboard clients revoke` without '--'.
      registration: {
        enabled: true,
        initialAccessToken: false,
        issueRegistrationAccessToken: false,
        idFactory: () => `sbc_${randomBytes(24).toString('base64url')}`,
      },
      // SEP-991: an HTTPS client_id is the URL of the client's metadata document. The library
      // checks the document (client_id equal to its URL, no shared-secret auth method, no secret)
      // and caches it by Cache-Control within these bounds (seconds).
      // Only public clients: a client that proves itself with a key (private_key_jwt) registers by DCR.
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        cacheDuration: { min: 60, max: 86_400 },
        // The draft (§3) says a client identifier URL MUST contain a path component; the library
        // fetches `https://host` as `https://host/`. Refused before any request leaves the hub.
        allowFetch: async (_ctx: unknown, clientId: string) => {
          if (!/^https:\/\/[^/?#]+\//i.test(clientId))
            throw new errors['InvalidClient']!('a client_id that is a URL must name its metadata document by a path, as in https://app.example/client.json');
          return true;
        },
        allowClient: async (_ctx: unknown, client: { clientAuthMethod: string }) => client.clientAuthMethod === 'none',
      },
      revocation: {
        enabled: true,
        // A client revokes its own tokens only (RFC 7009 §2.1); another's are refused, not revealed.
        allowedPolicy: async (_ctx: unknown, client: ClientView, token: { clientId: string }) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
          if (!resources.includes(indicator)) throw new errors['InvalidTarget']!(`this server issues tokens for ${resource} only`);
          return { scope: MCP_SCOPE, audience: indicator, accessTokenTTL: TTL_SECONDS.AccessToken, accessTokenFormat: 'opaque' };
        },
      },
    },
    async renderError(ctx: { type: string; body: string; set(h: Record<string, string>): void }, out: Record<string, string>) {
      ctx.type = 'html';
      ctx.set(PAGE_HEADERS);
      const lines = Object.entries(out).map(([k, v]) => `<p><b>${escapeHtml(k)}</b>: ${escapeHtml(String(v))}</p>`);
      ctx.body = `<!doctype html><meta charset="utf-8"><title>Sign-in failed</title><h1>Sign-in failed</h1>${lines.join('')}`;
    },
  });
  provider.use(withoutUnusableSecret);
  provider.use(retryAfterWhileUnavailable);
  provider.use(uncachedMetadata);
  provider.use(revocationAuthMethods);
  answerOversizeAs413(provider);
  // The library builds every URL it hands out, and decides whether its cookies are Secure, from
  // the request's X-Forwarded-Host and X-Forwarded-Proto: server.ts sets both to the issuer's on
  // each request it hands over, whatever the client or the proxy sent (issuerBound there).
  provider.proxy = true;
  return provider;
}

/**
 * A registration that names no `token_endpoint_auth_method` is a public client here (the hub's
 * default, `none`), but the library decides whether to issue a secret before that default applies
 * (RFC 7591's is `client_secret_basic`): the answer carried a secret the client could not use, and
 * a client that sends a secret whenever it has one was refused at /token. It is left out.
 */
async function withoutUnusableSecret(ctx: ProviderContext, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.oidc?.route !== 'registration' || ctx.status !== 201 || typeof ctx.body !== 'object' || ctx.body === null) return;
  const body = ctx.body as Record<string, unknown>;
  if (body['token_endpoint_auth_method'] !== 'none') return;
  delete body['client_secret'];
  delete body['client_secret_expires_at'];
}

/**
 * The metadata tells every client where to send its codes, verifiers and refresh tokens, and the
 * library sends it with no Cache-Control: a cache in front of the hub could have kept a copy built
 * from another request's headers, and could keep one again if anything in it came to depend on
 * the request. Each client asks for it once per sign-in, so it is never stored.
 */
async function uncachedMetadata(ctx: ProviderContext, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.oidc?.route === 'discovery') ctx.set('Cache-Control', 'no-store');
}

/**
 * The library authenticates a client at /revoke as at /token (its registered method, one of the
 * same configured set), but its metadata names the token endpoint's methods only, and RFC 8414 §2
 * reads a missing `revocation_endpoint_auth_methods_supported` as `client_secret_basic` alone:
 * every public client (`none`, the hub's default) would read that it cannot revoke. Named from the
 * token endpoint's list, so both say what the library really takes.
 */
async function revocationAuthMethods(ctx: ProviderContext, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.oidc?.route !== 'discovery' || typeof ctx.body !== 'object' || ctx.body === null) return;
  const body = ctx.body as Record<string, unknown>;
  if (body['revocation_endpoint'] === undefined) return;
  body['revocation_endpoint_auth_methods_supported'] = body['token_endpoint_auth_methods_supported'];
  // RFC 8414 §2: present whenever a JWT method (private_key_jwt, client_secret_jwt) is listed.
  if (body['token_endpoint_auth_signing_alg_values_supported'] !== undefined)
    body['revocation_endpoint_auth_signing_alg_values_supported'] = body['token_endpoint_auth_signing_alg_values_supported'];
}

/** A 503 (the store away, see store-unavailable.ts) says when to try again, as /mcp's does. */
async function retryAfterWhileUnavailable(ctx: ProviderContext, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.status === 503) ctx.set('Retry-After', STORE_RETRY_AFTER);
}

/**
 * The library's prompts, and one more reason to ask the user to sign in again: the browser's
 * session was signed in with a hub token that has since been revoked (or has expired). Without
 * it that browser went on authorizing new clients as the user for the session's 24 hours, each
 * grant vouched for by the revoked token.
 */
function signInPolicy(stands: ProviderDeps['signInStands']) {
  const { base, Check } = interactionPolicy;
  const policy = base();
  policy.get('login')!.checks.add(
    new Check(
      'credential_revoked',
      'the credential this session signed in with is no longer valid',
      async (ctx: { oidc: { session?: { accountId?: string; amr?: string[] } } }) => {
        const session = ctx.oidc.session;
        if (!session?.accountId) return Check.NO_NEED_TO_PROMPT;
        return (await stands(session.amr)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      },
    ),
  );
  return policy;
}

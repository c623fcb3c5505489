import type { Express } from 'express';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { AuthConfig } from '../config/schema.js';
import type { RevocationSource } from '../identity/revocation-watch.js';
import type { ApiTokens } from '../identity/tokens.js';
import type { SecretStore } from '../store/hub-secrets.js';
import type { RedisHandle } from '../store/redis/client.js';
import type { Vault } from '../vault/vault.js';
import { accessTokens, type AccessTokens } from './access.js';
import { guardedFetch, recentlyFetched } from './cimd-fetch.js';
import { Grants, revocationSource, tokenStands } from './grants.js';
import { mountSignIn } from './interaction.js';
import { Invites } from './invites.js';
import { loadAsKeys } from './keys.js';
import { importQuietly } from './load.js';
import type { AsRecords } from './records.js';
import { Sso } from './sso.js';
import { authorizationLimit } from './authorization-limit.js';
import { registrationLimit } from './registration-limit.js';
import { defaultScope } from './default-scope.js';
import { authorizationRouteGuard } from './route-guard.js';
import { AS_ROUTES, DISCOVERY_PATHS, publicPathOf, SIGN_IN_PATH } from './routes.js';
import { throttledLog } from '../http/refusal-log.js';
import { loopbackAliases } from '../http/security.js';

export interface AuthServer {
  /** The issuer: the hub's public URL. */
  issuer: string;
  /** OAuth access tokens for /mcp. */
  access: AccessTokens;
  /** Adds the endpoints and the sign-in pages (all public routes, see src/http/public-routes.ts). */
  mount(app: Express): void;
  /** The library itself (loaded once, on first use), for tests that mint a token the endpoints never would. */
  provider: () => Promise<Provider>;
  /** Whether the library has been asked for yet (it is never loaded before an OAuth request). */
  loaded(): boolean;
  /** OAuth-issued grants: list, revoke, per client. */
  grants: Grants;
  invites: Invites;
  /** What the HTTP face watches: hub tokens and grants, so either ending closes sessions and streams. */
  revocations: RevocationSource;
}

/** The repositories the authorization server uses (a part of the hub's store). */
export interface AuthStore {
  /** Its signing keys and form secret live here. */
  readonly secrets: SecretStore;
  readonly asRecords: AsRecords;
}

export interface AuthServerDeps {
  store: AuthStore;
  vault: Vault;
  clock: Clock;
  log: Logger;
  tokens: ApiTokens;
  /** The hub's public URL, as bound: the issuer, and the base of the resource `<publicUrl>/mcp`. */
  publicUrl: string;
  config?: AuthConfig | undefined;
  /** Trusted CA certificates (PEM) for metadata documents, beside the system's: tests' own HTTPS servers. */
  cimdCa?: string | undefined;
  /** With `redis` in the config: the registration limit is counted across replicas there. */
  redis?: RedisHandle | undefined;
}

/**
 * The hub as the authorization server of its own /mcp (issue 12). Built when the HTTP face
 * starts, after the vault is open: its keys come from the hub's secret store.
 */
export async function createAuthServer(deps: AuthServerDeps): Promise<AuthServer> {
  const issuer = deps.publicUrl.replace(/\/$/, '');
  const resource = `${issuer}/mcp`;
  const resources = loopbackAliases(resource);
  const keys = await loadAsKeys(deps.store.secrets);
  const grants = new Grants({ records: deps.store.asRecords, vault: deps.vault, clock: deps.clock });
  // The library deletes a grant's records when a refresh token is reused or a token is revoked
  // (RFC 7009): its sessions close at once in this process, as with `clients revoke`.
  const records = notifying(deps.store.asRecords, (id) => grants.ended(id));
  // A revoked hub token ends the grants it signed in (here at once; the CLI does the same).
  deps.tokens.onRevoked((tokenId) => {
    grants.endSignedInWith(tokenId).catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'ending grants failed'));
  });
  const fetch = recentlyFetched(guardedFetch({ allowLoopback: deps.config?.cimd.allowLoopback ?? false, ca: deps.cimdCa }));
  const oidc = deps.config?.oidc;
  const sso = oidc && new Sso({ config: oidc, hubUrl: issuer, records: deps.store.asRecords, vault: deps.vault, clock: deps.clock });
  // A browser session signed in with a hub token stands while the token does (an invite is spent
  // once used; a company sign-in is the identity provider's to end).
  const signInStands = async (amr: readonly string[] | undefined): Promise<boolean> => {
    const how = await grants.signedInWith(amr, sso?.issuer);
    if (how?.via !== 'token') return true;
    return tokenStands(await deps.tokens.get(how.tokenId), deps.clock.now());
  };
  // A grant likewise, at each use of its tokens (access.ts, a refresh): an expiring hub token's grants end with it.
  const grantStands = (grantId: string) => grants.signInStands(grantId, (tokenId) => deps.tokens.get(tokenId));
  // The library and its dependencies take 0.5 to 0.9 s of CPU to import: loaded by the first
  // request that needs it (an authorization-server route, or an OAuth token at /mcp), never on
  // start-up, where it would compete with a stdio client's first tools/list.
  let loading: Promise<Provider> | undefined;
  const provider = () =>
    (loading ??= importQuietly(() => import('./provider.js')).then(({ createProvider }) => {
      const p = createProvider({ issuer, resource, resources, keys, records, vault: deps.vault, clock: deps.clock, fetch, signInStands, grantStands });
      p.on('server_error', (_ctx: unknown, err: unknown) =>
        deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'authorization server error'),
      );
      // A client's refused request, said by its RFC 6749 code and description (never a token,
      // code or verifier: the library's messages name none); a reused refresh token shows here.
      // Anyone can send the endpoints junk: throttled per event and error.
      const refused = throttledLog(deps.log);
      for (const event of ['grant.error', 'authorization.error', 'registration_create.error', 'revocation.error'])
        p.on(event, (_ctx: unknown, err: unknown) => {
          const e = err as { error?: unknown; error_description?: unknown; error_detail?: unknown };
          const detail = e.error_detail === undefined ? {} : { detail: String(e.error_detail) };
          const error = String(e.error ?? 'unknown');
          const fields = { event, error, description: String(e.error_description ?? ''), ...detail };
          refused(`${event}:${error}`, 'info', fields, 'authorization server refused a request');
        });
      p.on('grant.revoked', (_ctx: unknown, grantId: unknown) => deps.log.info({ grantId: String(grantId) }, 'OAuth grant ended'));
      return p;
    }));
  let callback: Promise<ReturnType<Provider['callback']>> | undefined;
  const handled = new Set<string>([...Object.values(AS_ROUTES), ...DISCOVERY_PATHS]);
  const resume = `${AS_ROUTES.authorization}/`;
  const mountPath = publicPathOf(issuer);
  const invites = new Invites(deps.store.asRecords, deps.vault, deps.clock);
  const access = accessTokens(provider, resources, deps.clock, grantStands);
  return {
    issuer,
    provider,
    loaded: () => loading !== undefined,
    grants,
    invites,
    revocations: revocationSource(deps.tokens, grants, deps.clock),
    access: {
      async check(token) {
        const found = await access.check(token);
        if (typeof found === 'object') grants.touch(found.identity.tokenId!.slice('grant:'.length)).catch(() => {});
        return found;
      },
    },
    mount(app) {
      // Behind a proxy that serves the hub under a path, RFC 8414 §3.1 puts the metadata of the
      // issuer `https://proxy.example/hub` at `/.well-known/oauth-authorization-server/hub` (and
      // clients try `/.well-known/openid-configuration/hub` too), outside that path: a proxy that
      // passes `/.well-known/` on unstripped reaches the hub there, and gets the same document.
      if (mountPath !== '')
        app.use((req, _res, next) => {
          const at = DISCOVERY_PATHS.find((p) => req.path === `${p}${mountPath}`);
          if (at !== undefined) req.url = `${at}${req.url.slice(req.path.length)}`;
          next();
        });
      app.use(authorizationRouteGuard);
      app.use(defaultScope);
      app.post(AS_ROUTES.registration, registrationLimit({ clock: deps.clock, redis: deps.redis, log: deps.log }));
      const limit = authorizationLimit({ clock: deps.clock });
      app.all(AS_ROUTES.authorization, limit);
      // With single sign-on each visit of the sign-in step stores a state for the company's
      // provider: one pending sign-in, reloaded in a loop, would otherwise store without bound.
      if (sso) app.get(`${SIGN_IN_PATH}/:uid`, limit);
      app.use((req, res, next) => {
        if (!handled.has(req.path) && !req.path.startsWith(resume)) return next();
        callback ??= provider().then((p) => issuerBound(p.callback(), issuer));
        // The library builds its endpoint URLs (discovery, the resume step after sign-in) and its
        // cookies' Path on the path it is mounted at, which it reads from Express's `baseUrl`
        // when `originalUrl` is the request's own URL (oidc_context.js `urlFor`): behind a proxy
        // that strips the public URL's path, that path, as if the hub were mounted there.
        callback.then((handle) => {
          req.baseUrl = mountPath;
          handle(req, res);
        }, next);
      });
      mountSignIn(app, { provider, tokens: deps.tokens, invites, grants, sso, signInStands, formSecret: keys.formSecret, issuer, log: deps.log });
    },
  };
}

/**
 * The library's handler, each request presented to it as made to the issuer: it reads the scheme
 * and host from X-Forwarded-Proto and X-Forwarded-Host (provider.ts turns that on), builds every
 * URL it hands out from them (the metadata's endpoints and jwks_uri, the resume step after
 * sign-in) and sets its cookies Secure by the scheme. Those headers are the client's own unless a
 * proxy overwrites them (nginx passes them through unless told otherwise), and a proxy that sends
 * none would get http:// endpoints under an https issuer: both are set to the issuer's here, so
 * every URL is under the public URL whatever the request says.
 */
function issuerBound(handle: ReturnType<Provider['callback']>, issuer: string): ReturnType<Provider['callback']> {
  const { host, protocol } = new URL(issuer);
  return (req, res) => {
    req.headers['x-forwarded-host'] = host;
    req.headers['x-forwarded-proto'] = protocol.slice(0, -1);
    handle(req, res);
  };
}

/** The store, telling `onEnded` of each grant whose records it deleted. */
function notifying(records: AsRecords, ended: (grantId: string) => void): AsRecords {
  return Object.assign(Object.create(records) as AsRecords, {
    async revokeGrant(grantId: string): Promise<number> {
      const n = await records.revokeGrant(grantId);
      if (n > 0) ended(grantId);
      return n;
    },
  });
}

import type { Express } from 'express';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ApiTokens } from '../identity/tokens.js';
import type { Db } from '../store/db.js';
import { HubSecrets } from '../store/hub-secrets.js';
import type { Vault } from '../vault/vault.js';
import { accessTokens, type AccessTokens } from './access.js';
import { mountSignIn } from './interaction.js';
import { loadAsKeys } from './keys.js';
import { SqliteAsRecords } from './records.js';
import { registrationLimit } from './registration-limit.js';
import { AS_ROUTES, DISCOVERY_PATHS } from './routes.js';

export interface AuthServer {
  /** The issuer: the hub's public URL. */
  issuer: string;
  /** OAuth access tokens for /mcp. */
  access: AccessTokens;
  /** Adds the endpoints and the sign-in pages (all public routes, see src/http/public-routes.ts). */
  mount(app: Express): void;
  /** The library itself (loaded once, on first use), for tests that mint a token the endpoints never would. */
  provider: () => Promise<Provider>;
}

export interface AuthServerDeps {
  db: Db;
  vault: Vault;
  clock: Clock;
  log: Logger;
  tokens: ApiTokens;
  /** The hub's public URL, as bound: the issuer, and the base of the resource `<publicUrl>/mcp`. */
  publicUrl: string;
}

/**
 * The hub as the authorization server of its own /mcp (issue 12). Built when the HTTP face
 * starts, after the vault is open: its keys come from the hub's secret store.
 */
export async function createAuthServer(deps: AuthServerDeps): Promise<AuthServer> {
  const issuer = deps.publicUrl.replace(/\/$/, '');
  const resource = `${issuer}/mcp`;
  const keys = await loadAsKeys(new HubSecrets(deps.db, deps.vault, deps.clock));
  // The library and its dependencies take 0.5 to 0.9 s to import on a busy 2-core machine: loaded
  // in the background, so `serve` does not wait for it; a request that needs it waits instead.
  let loading: Promise<Provider> | undefined;
  const provider = () =>
    (loading ??= import('./provider.js').then(({ createProvider }) => {
      const p = createProvider({ issuer, resource, keys, records: new SqliteAsRecords(deps.db), vault: deps.vault, clock: deps.clock });
      p.on('server_error', (_ctx: unknown, err: unknown) =>
        deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'authorization server error'),
      );
      return p;
    }));
  provider().catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'the authorization server did not load'));
  let callback: Promise<ReturnType<Provider['callback']>> | undefined;
  const handled = new Set<string>([...Object.values(AS_ROUTES), ...DISCOVERY_PATHS]);
  const resume = `${AS_ROUTES.authorization}/`;
  return {
    issuer,
    provider,
    access: accessTokens(provider, resource, deps.clock),
    mount(app) {
      app.post(AS_ROUTES.registration, registrationLimit({ clock: deps.clock }));
      app.use((req, res, next) => {
        if (!handled.has(req.path) && !req.path.startsWith(resume)) return next();
        callback ??= provider().then((p) => p.callback());
        callback.then((handle) => handle(req, res), next);
      });
      mountSignIn(app, { provider, tokens: deps.tokens, formSecret: keys.formSecret, issuer, log: deps.log });
    },
  };
}

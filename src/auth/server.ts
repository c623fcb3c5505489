import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ApiTokens } from '../identity/tokens.js';
import type { Db } from '../store/db.js';
import { HubSecrets } from '../store/hub-secrets.js';
import type { Vault } from '../vault/vault.js';
import { accessTokens, type AccessTokens } from './access.js';
import { mountSignIn } from './interaction.js';
import { loadAsKeys } from './keys.js';
import { AS_ROUTES, createProvider } from './provider.js';
import { SqliteAsRecords } from './records.js';
import { registrationLimit } from './registration-limit.js';

export interface AuthServer {
  /** The issuer: the hub's public URL. */
  issuer: string;
  /** OAuth access tokens for /mcp. */
  access: AccessTokens;
  /** Adds the endpoints and the sign-in pages (all public routes, see src/http/public-routes.ts). */
  mount(app: Express): void;
  /** The library itself, for tests that mint a token the endpoints never would. */
  provider: import('oidc-provider').default;
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

/** RFC 8414 and OpenID discovery, both served by the library from one configuration. */
export const DISCOVERY_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'] as const;

/**
 * The hub as the authorization server of its own /mcp (issue 12). Built when the HTTP face
 * starts, after the vault is open: its keys come from the hub's secret store.
 */
export async function createAuthServer(deps: AuthServerDeps): Promise<AuthServer> {
  const issuer = deps.publicUrl.replace(/\/$/, '');
  const resource = `${issuer}/mcp`;
  const keys = await loadAsKeys(new HubSecrets(deps.db, deps.vault, deps.clock));
  const provider = createProvider({ issuer, resource, keys, records: new SqliteAsRecords(deps.db), vault: deps.vault, clock: deps.clock });
  provider.on('server_error', (_ctx: unknown, err: unknown) =>
    deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'authorization server error'),
  );
  const handled = new Set<string>([...Object.values(AS_ROUTES), ...DISCOVERY_PATHS]);
  const resume = `${AS_ROUTES.authorization}/`;
  return {
    issuer,
    provider,
    access: accessTokens(provider, resource, deps.clock),
    mount(app) {
      const callback = provider.callback();
      app.post(AS_ROUTES.registration, registrationLimit({ clock: deps.clock }));
      app.use((req, res, next) => {
        if (handled.has(req.path) || req.path.startsWith(resume)) callback(req, res);
        else next();
      });
      mountSignIn(app, { provider, tokens: deps.tokens, formSecret: keys.formSecret, issuer, log: deps.log });
    },
  };
}

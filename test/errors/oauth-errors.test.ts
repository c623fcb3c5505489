import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { HubError } from '../../src/errors.js';
import { OAuthClient, OAuthGrantError, OAuthTransientError, type OAuthEndpoints } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { CLIENT, link, startSandbox, type Harness } from '../sandbox/harness.js';

/** Rejects with what `fn` threw, for whole-error assertions. */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** OAuth failures are HubErrors whose code carries their outcome, with the library's error kept as cause. */
describe('OAuth errors are typed hub errors', () => {
  let h: Harness;
  let endpoints: OAuthEndpoints;

  beforeAll(async () => {
    h = await startSandbox({ accessTokenTtlSeconds: 3600 });
    endpoints = {
      authorizeUrl: `${h.issuer}/oauth/authorize`,
      tokenUrl: `${h.issuer}/oauth/token`,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      scopes: ['read'],
    };
  });
  afterAll(() => h.close());

  it('a refused authorization code is oauth_grant_rejected, not retryable, with the HTTP error as cause and no secret in it', async () => {
    const client = new OAuthClient(endpoints, h.clock);
    const err = await thrown(() => client.exchangeCode({ code: 'no-such-code', redirectUri: CLIENT.redirectUris[0]!, codeVerifier: 'v'.repeat(43) }));
    expect(err).toBeInstanceOf(HubError);
    expect(err).toBeInstanceOf(OAuthGrantError);
    const e = err as OAuthGrantError;
    expect({ code: e.code, retryable: e.spec.retryable, error: e.error, status: e.status, details: e.details }).toEqual({
      code: 'oauth_grant_rejected',
      retryable: false,
      error: 'invalid_grant',
      status: 400,
      details: { error: 'invalid_grant', status: 400 },
    });
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).not.toContain(CLIENT.secret);
  });

  it('an unreachable token endpoint is oauth_endpoint_unavailable, retryable, with the network error as cause', async () => {
    const port = await closedPort();
    const client = new OAuthClient({ ...endpoints, tokenUrl: `http://127.0.0.1:${port}/token` }, h.clock);
    const err = await thrown(() => client.refresh({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer' }));
    expect(err).toBeInstanceOf(OAuthTransientError);
    const e = err as OAuthTransientError;
    expect({ code: e.code, retryable: e.spec.retryable, status: e.status }).toEqual({ code: 'oauth_endpoint_unavailable', retryable: true, status: undefined });
    expect(e.message).toMatch(/^token endpoint unreachable: /);
    expect((e.cause as NodeJS.ErrnoException).code ?? (e.cause as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('through the token manager: an expired token that cannot be refreshed is token_refresh_failed with the endpoint error as cause', async () => {
    const db = openDb({ file: ':memory:', clock: h.clock });
    const store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock: h.clock }), h.clock);
    const port = await closedPort();
    const down = new OAuthClient({ ...endpoints, tokenUrl: `http://127.0.0.1:${port}/token` }, h.clock);
    const manager = new TokenManager({
      store: sqliteConnections(store),
      clock: h.clock,
      log: silentLogger(),
      clientFor: () => down,
      attempts: 2,
      sleep: async () => {},
    });
    const pair = await link({ issuer: h.issuer }, 'alice');
    const c = await sqliteConnections(store).link({
      tenant: 'default',
      user: 'alice',
      integration: 'sandbox',
      tokens: { accessToken: pair.access_token, refreshToken: pair.refresh_token, tokenType: 'Bearer', expiresAt: h.clock.now() - 1 },
      scopes: [],
    });
    const err = await thrown(() => manager.accessToken(c.id));
    expect(err).toMatchObject({ code: 'token_refresh_failed' });
    const e = err as HubError;
    expect(e.spec).toMatchObject({ retryable: true, log: 'warn' });
    expect(e.cause).toBeInstanceOf(OAuthTransientError);
    expect(e.message).not.toContain(pair.refresh_token);
    expect(store.get(c.id)).toMatchObject({ state: 'active', refreshFailures: 1 });
  });
});

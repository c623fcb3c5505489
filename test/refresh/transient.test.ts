import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { HubError } from '../../src/errors.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { CLIENT, T0, link, startSandbox, type Harness } from '../sandbox/harness.js';

/**
 * The token endpoint failing on its side (5xx) or not answering must not cost a connection: the
 * refresh is retried with backoff, and while the access token is still valid calls go on with it.
 */
describe('token refresh against a failing token endpoint', () => {
  let h: Harness;
  let clock: Harness['clock'];
  let issuer: string;
  let failures = 0;
  let tokenRequests = 0;
  let store: ConnectionStore;
  let manager: TokenManager;
  let connectionId: string;
  let firstAccess: string;

  beforeEach(async () => {
    failures = 0;
    tokenRequests = 0;
    h = await startSandbox({ accessTokenTtlSeconds: 3600 }, (app) => {
      // A provider outage in front of the real token endpoint.
      app.use('/sandbox/oauth/token', (_req, res, next) => {
        tokenRequests++;
        if (failures > 0) {
          failures--;
          res.status(503).set('Retry-After', '0').json({ error: 'temporarily_unavailable' });
          return;
        }
        next();
      });
    });
    clock = h.clock;
    issuer = h.issuer;
    const db = openDb({ file: ':memory:', clock });
    const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock });
    store = new ConnectionStore(db, vault, clock);
    const client = new OAuthClient(
      {
        authorizeUrl: `${issuer}/oauth/authorize`,
        tokenUrl: `${issuer}/oauth/token`,
        revokeUrl: `${issuer}/oauth/revoke`,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        scopes: ['read', 'write'],
      },
      clock,
    );
    manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => client, attempts: 3, sleep: async () => {} });
    const pair = await link({ issuer }, 'ada');
    tokenRequests = 0;
    firstAccess = pair.access_token;
    connectionId = (
      await sqliteConnections(store).link({
        tenant: 'default',
        user: 'alice',
        integration: 'sandbox',
        tokens: { accessToken: pair.access_token, refreshToken: pair.refresh_token, tokenType: 'Bearer', expiresAt: T0 + 3600_000 },
        scopes: ['read', 'write'],
      })
    ).id;
  });

  afterEach(() => h.close());

  it('retries 503s and commits the refreshed token set', async () => {
    failures = 2;
    clock.advance(3600_000);
    const token = await manager.accessToken(connectionId);
    expect(token).not.toBe(firstAccess);
    expect(tokenRequests).toBe(3);
    const c = store.get(connectionId)!;
    expect(c).toMatchObject({ state: 'active', refreshFailures: 0, refreshOwner: null, tokenVersion: 2 });
    expect(store.tokens(c).accessToken).toBe(token);
  });

  it('keeps using a still-valid access token when every attempt fails', async () => {
    failures = 100;
    // Inside the refresh margin but not expired: a refresh is due, the old token still works.
    clock.advance(3600_000 - 30_000);
    expect(await manager.accessToken(connectionId)).toBe(firstAccess);
    expect(tokenRequests).toBe(3);
    const c = store.get(connectionId)!;
    expect(c).toMatchObject({ state: 'active', refreshFailures: 1, refreshOwner: null, refreshStartedAt: null, tokenVersion: 1 });
    // The provider is back: the next use refreshes.
    failures = 0;
    expect(await manager.accessToken(connectionId)).not.toBe(firstAccess);
  });

  it('fails the call, not the connection, when the token has expired and the endpoint is down', async () => {
    failures = 100;
    clock.advance(3600_000 + 1);
    const err = await manager.accessToken(connectionId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('token_refresh_failed');
    expect(store.get(connectionId)).toMatchObject({ state: 'active', refreshOwner: null });
  });

  it('moves the connection to needs_reauth with a reason on invalid_grant', async () => {
    const current = store.tokens(store.get(connectionId)!);
    await fetch(`${issuer}/oauth/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: current.refreshToken!, token_type_hint: 'refresh_token' }),
    });
    clock.advance(3600_000);
    const err = await manager.accessToken(connectionId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as HubError).code).toBe('connection_needs_reauth');
    const c = store.get(connectionId)!;
    expect(c.state).toBe('needs_reauth');
    expect(c.reason).toMatch(/invalid_grant/);
    expect(c.reason).toMatch(/link the account again/);
  });
});

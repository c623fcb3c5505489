import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { CLIENT, authorize, startSandbox, type Harness } from '../sandbox/harness.js';

/** A provider whose access tokens live shorter than the refresh margin (10 s against 60 s). */
describe('short-lived access tokens', () => {
  let h: Harness;
  let refreshes = 0;
  let use: () => Promise<string>;

  beforeAll(async () => {
    h = await startSandbox({ accessTokenTtlSeconds: 10 }, (app) => {
      // Token-endpoint hits after the code exchange are refreshes.
      app.use('/sandbox/oauth/token', (_req, _res, next) => {
        refreshes++;
        next();
      });
    });
    const { clock, issuer } = h;
    const client = new OAuthClient(
      { authorizeUrl: `${issuer}/oauth/authorize`, tokenUrl: `${issuer}/oauth/token`, clientId: CLIENT.id, clientSecret: CLIENT.secret, scopes: ['read'] },
      clock,
    );
    const db = openDb({ file: ':memory:', clock });
    const store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const a = await authorize({ issuer }, 'ada');
    const tokens = await client.exchangeCode({ code: a.code, redirectUri: a.redirectUri, codeVerifier: a.verifier });
    refreshes = 0;
    const id = (await sqliteConnections(store).link({ tenant: 'default', user: 'alice', integration: 'sandbox', tokens, scopes: ['read'] })).id;
    const manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => client, marginMs: 60_000 });
    use = () => manager.accessToken(id);
  });

  afterAll(() => h.close());

  it('refreshes once per half-life, not on every call', async () => {
    const { clock } = h;
    const first = await use();
    clock.advance(2_000);
    expect(await use()).toBe(first);
    expect(refreshes).toBe(0);
    clock.advance(4_000); // 6 s into a 10 s token: past half its life
    const second = await use();
    expect(second).not.toBe(first);
    expect(refreshes).toBe(1);
    clock.advance(1_000);
    expect(await use()).toBe(second);
    expect(refreshes).toBe(1);
  });
});

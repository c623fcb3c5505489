/**
 * Once the provider has answered a refresh, the old refresh token is spent. If the new token set
 * cannot be saved, the token manager retries the save — never the refresh — while its claim holds,
 * and when the save keeps failing, the claim it leaves behind marks the refresh as interrupted for
 * the next one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import type { Connection, TokenSet } from '../../src/connections/types.js';
import { HubError } from '../../src/errors.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';

const REDIRECT = 'http://127.0.0.1:9/oauth/callback';

/** The real store, with the next `failures` saves of refreshed tokens failing (a locked or full disk). */
class FlakyStore extends ConnectionStore {
  failures = 0;
  attempts = 0;
  override commitRefresh(c: Connection, owner: string, tokens: TokenSet): boolean {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('database is locked');
    }
    return super.commitRefresh(c, owner, tokens);
  }
}

describe('a refreshed token set that cannot be saved', () => {
  let oidc: OidcServer;
  const clock = manualClock(Date.now());
  let store: FlakyStore;
  let manager: TokenManager;

  beforeAll(async () => {
    oidc = await startOidcServer({ redirectUris: [REDIRECT] });
    const db = openDb({ file: ':memory:', clock });
    store = new FlakyStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const i = oidc.integration() as { oauth: { authorizeUrl: string; tokenUrl: string; revokeUrl: string } };
    const client = new OAuthClient({ ...i.oauth, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scopes: ['openid'] }, clock);
    // Pauses yield to the event loop and pass on the injected clock: saves are retried while the claim holds.
    manager = new TokenManager({
      store: sqliteConnections(store),
      clock,
      log: silentLogger(),
      clientFor: () => client,
      attempts: 3,
      sleep: (ms) => {
        clock.advance(ms);
        return new Promise((r) => setImmediate(r));
      },
    });
  });

  afterAll(async () => {
    await oidc?.close();
  });

  async function linked(login: string): Promise<Connection> {
    const t = await oidc.obtainTokens(login, REDIRECT);
    return sqliteConnections(store).link({
      tenant: 'default',
      user: login,
      integration: 'acme',
      tokens: { accessToken: t.access_token, refreshToken: t.refresh_token, tokenType: 'Bearer', expiresAt: clock.now() + t.expires_in * 1000 },
      scopes: ['openid'],
    });
  }

  it('retries the save, not the refresh', async () => {
    const c = await linked('ada');
    clock.advance(3600_000);
    const before = oidc.tokenRequests('refresh_token');
    store.failures = 2;
    store.attempts = 0;
    const token = await manager.accessToken(c.id);
    expect(store.attempts).toBe(3);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    expect(token).toBe(oidc.issued.at(-1)!.accessToken);
    expect(store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: c.tokenVersion + 1, refreshOwner: null, refreshStartedAt: null });
    expect(store.tokens(store.get(c.id)!).accessToken).toBe(token);
  });

  it('fails the call when every save fails, and the next refresh reports the interruption at once', async () => {
    const c = await linked('grace');
    clock.advance(3600_000);
    const before = oidc.tokenRequests('refresh_token');
    store.failures = Number.POSITIVE_INFINITY;
    store.attempts = 0;
    const err = await manager.accessToken(c.id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('store_failed');
    expect((err as HubError).message).toBe('the acme token was refreshed but could not be saved (database is locked)');
    // Every few seconds for the claim's minute (less a margin), starting quicker.
    expect(store.attempts).toBeGreaterThan(25);
    expect(store.attempts).toBeLessThan(40);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    store.failures = 0;
    // The claim stays recorded, under this manager's own id, with the lease still running.
    const left = store.get(c.id)!;
    expect(left).toMatchObject({ state: 'active', tokenVersion: c.tokenVersion, refreshOwner: manager.owner });
    expect(left.refreshUntil).toBeGreaterThan(clock.now());

    // The same manager does not wait out its own leftover claim; the provider refuses the spent token.
    const again = await manager.accessToken(c.id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((again as HubError).code).toBe('connection_needs_reauth');
    expect(oidc.tokenRequests('refresh_token') - before).toBe(2);
    expect(store.get(c.id)).toMatchObject({
      state: 'needs_reauth',
      reason: expect.stringContaining('after an earlier refresh was interrupted before its result was saved; link the account again'),
    });
  });
});

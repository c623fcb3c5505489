/**
 * Issue 13: the store goes away (a PostgreSQL restart) just as a rotating token endpoint answers a
 * refresh. The old refresh token is spent; the new token set exists only in the refreshing
 * process. It must be saved once the store is back — tens of seconds later — and meanwhile no
 * other caller, in this process or another, may send the spent token (the authorization server
 * would revoke the whole grant, RFC 9700 §4.14.2, and the user would have to link again).
 *
 * The outage is injected at the repository boundary: every method of the real SQLite repository
 * fails, as the PostgreSQL pool's do, while the store is "down". Time is the injected clock: the
 * refreshing manager's pauses are let pass by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { type ConnectionRepository, sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import type { Connection } from '../../src/connections/types.js';
import { HubError } from '../../src/errors.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { eventually } from '../helpers/hub.js';

const REDIRECT = 'http://127.0.0.1:9/oauth/callback';

/** The real repository, every call of which fails as a PostgreSQL pool's does while `down`. */
function withOutage(repo: ConnectionRepository) {
  const outage = { down: false, refused: 0 };
  const wrapped = Object.fromEntries(
    Object.entries(repo).map(([name, fn]: [string, (...a: unknown[]) => Promise<unknown>]) => [
      name,
      async (...a: unknown[]) => {
        if (outage.down) {
          outage.refused++;
          throw new HubError('store_failed', `a database query failed: database "switchboard" is not currently accepting connections`, {
            details: { sqlstate: '57P03' },
          });
        }
        return fn(...a);
      },
    ]),
  ) as unknown as ConnectionRepository;
  return { outage, repo: wrapped };
}

describe('a refreshed token set the store cannot take for a while', () => {
  let oidc: OidcServer;
  const clock = manualClock(Date.now());
  let store: ConnectionStore;
  let client: OAuthClient;

  beforeAll(async () => {
    oidc = await startOidcServer({ redirectUris: [REDIRECT] });
    const db = openDb({ file: ':memory:', clock });
    store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const i = oidc.integration() as { oauth: { authorizeUrl: string; tokenUrl: string; revokeUrl: string } };
    client = new OAuthClient({ ...i.oauth, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scopes: ['openid'] }, clock);
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

  it('saves it once the store is back 25 s later; callers here and on another replica get it, and the refresh token is sent once', async () => {
    const { outage, repo } = withOutage(sqliteConnections(store));
    // The refreshing replica: its pauses wait for the test, which lets the injected clock run.
    const pauses: Array<{ ms: number; go: () => void }> = [];
    const a = new TokenManager({
      store: repo,
      clock,
      log: silentLogger(),
      clientFor: () => client,
      sleep: (ms) => new Promise<void>((go) => pauses.push({ ms, go })),
    });
    // Another replica on the same database: it polls the claim without advancing the clock.
    let polls = 0;
    const b = new TokenManager({
      store: repo,
      clock,
      log: silentLogger(),
      clientFor: () => client,
      sleep: () => {
        polls++;
        return new Promise<void>((r) => setTimeout(r, 5));
      },
    });
    const c = await linked('ada');
    clock.advance(3600_000);
    const before = oidc.tokenRequests('refresh_token');
    // The token endpoint has rotated the refresh token and is about to answer: the database goes away.
    oidc.holdTokenAnswer = (grant) => {
      if (grant === 'refresh_token') outage.down = true;
    };
    const first = a.accessToken(c.id);

    let waited = 0;
    for (;;) {
      await eventually(() => (pauses.length > 0 ? true : undefined));
      if (waited >= 25_000) break;
      const p = pauses.shift()!;
      clock.advance(p.ms);
      waited += p.ms;
      p.go();
    }
    expect(outage.refused).toBeGreaterThan(5);
    // The database is back, the manager in a pause. Another call here and one on the other replica
    // come before its next save.
    outage.down = false;
    oidc.holdTokenAnswer = undefined;
    const here = a.accessToken(c.id);
    const there = b.accessToken(c.id);
    // The other replica finds the claim held and waits on it; it sends nothing.
    await eventually(() => (polls >= 5 ? true : undefined));
    expect(store.get(c.id)!.refreshOwner).toBe(a.owner);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    const p = pauses.shift()!;
    clock.advance(p.ms);
    p.go();

    const tokens = await Promise.all([first, here, there]);
    const issued = oidc.issued.at(-1)!;
    expect(issued.grantType).toBe('refresh_token');
    expect(tokens).toEqual([issued.accessToken, issued.accessToken, issued.accessToken]);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    expect(store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: c.tokenVersion + 1, refreshOwner: null, refreshStartedAt: null });
    expect(store.tokens(store.get(c.id)!).refreshToken).toBe(issued.refreshToken);

    // The grant is intact: the saved refresh token works at the next refresh.
    clock.advance(3600_000);
    const later = b.accessToken(c.id);
    expect(await later).toBe(oidc.issued.at(-1)!.accessToken);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(2);
    expect(store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: c.tokenVersion + 2 });
  });

  it('stops trying before its claim runs out, so no one sends the spent token while it might still save', async () => {
    const { outage, repo } = withOutage(sqliteConnections(store));
    let slept = 0;
    const a = new TokenManager({
      store: repo,
      clock,
      log: silentLogger(),
      clientFor: () => client,
      leaseMs: 60_000,
      sleep: async (ms) => {
        slept += ms;
        clock.advance(ms);
      },
    });
    const c = await linked('grace');
    clock.advance(3600_000);
    const claimedAt = clock.now();
    oidc.holdTokenAnswer = (grant) => {
      if (grant === 'refresh_token') outage.down = true;
    };
    const err = await a.accessToken(c.id).then(
      () => undefined,
      (e: unknown) => e,
    );
    outage.down = false;
    oidc.holdTokenAnswer = undefined;
    expect((err as HubError).code).toBe('store_failed');
    expect((err as HubError).message).toMatch(/^the acme token was refreshed but could not be saved/);
    // Retried for most of the claim, and given up while it still held.
    expect(slept).toBeGreaterThan(50_000);
    const left = store.get(c.id)!;
    expect(left).toMatchObject({ refreshOwner: a.owner, tokenVersion: c.tokenVersion });
    expect(left.refreshUntil).toBe(claimedAt + 60_000);
    expect(left.refreshUntil).toBeGreaterThan(clock.now());
  });
});

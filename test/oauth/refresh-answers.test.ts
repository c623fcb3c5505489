/**
 * How a refresh ends on the token endpoint's less usual answers, against a local server speaking
 * GitHub's and Slack's wire formats: a Retry-After longer than the hub waits fails the refresh at
 * once (calls do not hang on it), a refresh after an API 401 is not charged to the API request's
 * timeout, and an error sent with HTTP 200 is read as the OAuth error it is.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import type { Connection } from '../../src/connections/types.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createProviderClient } from '../../src/providers/client.js';
import { oauthCredentials } from '../../src/providers/credentials.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

/** What the token endpoint does with the next request: `undefined` issues tokens as usual. */
type TokenAnswer = (res: ServerResponse) => void;

const clock = manualClock(Date.now());
let server: Server;
let base: string;
/** Access token → login; a token missing here gets 401 at the API. */
const access = new Map<string, string>();
const refreshTokens = new Map<string, string>();
let issued = 0;
let tokenRequests = 0;
let nextAnswers: TokenAnswer[] = [];
const apiHits: Array<{ login: string | undefined; status: number }> = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const c of req) body += (c as Buffer).toString();
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
    void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
  if (path === '/login/oauth/access_token') {
    tokenRequests++;
    const scripted = nextAnswers.shift();
    if (scripted) return scripted(res);
    const login = refreshTokens.get(new URLSearchParams(body).get('refresh_token') ?? '');
    // GitHub answers its errors with 200 (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens).
    if (login === undefined) return json(200, { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' });
    issued++;
    const pair = { access_token: `ghu_${login}_${issued}`, refresh_token: `ghr_${login}_${issued}`, expires_in: 28800, token_type: 'bearer', scope: '' };
    access.set(pair.access_token, login);
    refreshTokens.set(pair.refresh_token, login);
    return json(200, pair);
  }
  if (path === '/api/user') {
    const login = access.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    apiHits.push({ login, status: login ? 200 : 401 });
    if (!login) return json(401, { message: 'Bad credentials' });
    return json(200, { login });
  }
  json(404, { message: 'Not Found' });
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('refreshing against a GitHub- or Slack-shaped token endpoint', () => {
  let store: ConnectionStore;
  let manager: TokenManager;
  let client: OAuthClient;
  const sleeps: number[] = [];

  beforeEach(() => {
    nextAnswers = [];
    sleeps.length = 0;
    apiHits.length = 0;
    const db = openDb({ file: ':memory:', clock });
    store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    client = new OAuthClient(
      {
        authorizeUrl: `${base}/login/oauth/authorize`,
        tokenUrl: `${base}/login/oauth/access_token`,
        clientId: 'Iv1.hub',
        clientSecret: 'hub-secret',
        scopes: [],
      },
      clock,
    );
    manager = new TokenManager({
      store: sqliteConnections(store),
      clock,
      log: silentLogger(),
      clientFor: () => client,
      sleep: async (ms) => void sleeps.push(ms),
    });
  });

  /** A linked account whose access token expires `ttlMs` from now. */
  async function linked(login: string, ttlMs: number): Promise<Connection> {
    issued++;
    const tokens = { accessToken: `ghu_${login}_${issued}`, refreshToken: `ghr_${login}_${issued}`, tokenType: 'Bearer', expiresAt: clock.now() + ttlMs };
    access.set(tokens.accessToken, login);
    refreshTokens.set(tokens.refreshToken, login);
    return sqliteConnections(store).link({ tenant: 'default', user: login, integration: 'github', tokens, scopes: [] });
  }

  const tooManyRequests: TokenAnswer = (res) =>
    void res.writeHead(429, { 'retry-after': '3600', 'content-type': 'application/json' }).end('{"message":"slow down"}');
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('fails a refresh at once, for every waiting call, when Retry-After is longer than the hub waits', async () => {
    const alice = await linked('alice', 1_000);
    const bob = await linked('bob', 3_600_000);
    clock.advance(2_000);
    tokenRequests = 0;
    nextAnswers = [tooManyRequests, tooManyRequests, tooManyRequests];
    const calls = await Promise.all([1, 2, 3, 4, 5].map(() => failure(manager.accessToken(alice.id))));
    for (const err of calls)
      expect(err).toMatchObject({
        code: 'token_refresh_failed',
        message: 'could not refresh the github token: token endpoint answered 429 and asked for 3600 s before another try; try again later',
      });
    // One request, no wait: the hour the endpoint asked for is not slept through.
    expect([tokenRequests, sleeps]).toEqual([1, []]);
    expect(store.get(alice.id)).toMatchObject({ state: 'active', refreshOwner: null });
    // Bob's connection is another's: his still-valid token is handed out meanwhile.
    expect(await manager.accessToken(bob.id)).toBe(store.tokens(store.get(bob.id)!).accessToken);
    nextAnswers = [];
    // Within the hour the endpoint is left alone: later calls fail at once, saying how long is left.
    clock.advance(600_000);
    const later = await failure(manager.accessToken(alice.id));
    expect(later).toMatchObject({ code: 'token_refresh_failed', details: { retryAfterMs: 3_000_000 } });
    expect((later as Error).message).toContain('asked for 3000 s before another try');
    expect(tokenRequests).toBe(1);
    // Bob's connection is not held back by Alice's wait: his expired token is refreshed.
    clock.advance(3_600_000 - 600_000 - 1);
    expect(await manager.accessToken(bob.id)).toMatch(/^ghu_bob_/);
    expect(tokenRequests).toBe(2);
    expect(await failure(manager.accessToken(alice.id))).toMatchObject({ code: 'token_refresh_failed' });
    expect(tokenRequests).toBe(2);
    // The hour is over: the next call refreshes.
    clock.advance(1);
    expect(await manager.accessToken(alice.id)).toMatch(/^ghu_alice_/);
    expect(tokenRequests).toBe(3);
  });

  it('reads a Retry-After given as an HTTP-date (RFC 9110 §10.2.3) as the same wait given in seconds', async () => {
    const alice = await linked('alice', 1_000);
    // An HTTP-date has whole seconds: the hub's clock is put on one, and the date is an hour on.
    clock.advance(2_000 + 1_000 - (clock.now() % 1_000));
    const until = clock.now() + 3_600_000;
    tokenRequests = 0;
    nextAnswers = [(res) => void res.writeHead(429, { 'retry-after': new Date(until).toUTCString() }).end()];
    expect(await failure(manager.accessToken(alice.id))).toMatchObject({
      code: 'token_refresh_failed',
      message: 'could not refresh the github token: token endpoint answered 429 and asked for 3600 s before another try; try again later',
    });
    expect([tokenRequests, sleeps]).toEqual([1, []]);
    // The token endpoint is left alone until that date, and asked again once it has passed.
    clock.advance(until - clock.now() - 1);
    expect(await failure(manager.accessToken(alice.id))).toMatchObject({ code: 'token_refresh_failed', details: { retryAfterMs: 1 } });
    expect(tokenRequests).toBe(1);
    clock.advance(1);
    expect(await manager.accessToken(alice.id)).toMatch(/^ghu_alice_/);
    expect(tokenRequests).toBe(2);
  });

  it('goes on with a still-valid token, and waits out a Retry-After within the cap', async () => {
    const alice = await linked('alice', 30_000);
    const before = store.tokens(alice).accessToken;
    tokenRequests = 0;
    nextAnswers = [tooManyRequests];
    expect(await manager.accessToken(alice.id)).toBe(before);
    expect([tokenRequests, sleeps]).toEqual([1, []]);
    // Asked to wait an hour: the still-valid token is handed out without another request.
    clock.advance(10_000);
    expect(await manager.accessToken(alice.id)).toBe(before);
    expect(tokenRequests).toBe(1);
    clock.advance(3_600_000);
    nextAnswers = [(res) => void res.writeHead(503, { 'retry-after': '2' }).end()];
    const renewed = await manager.accessToken(alice.id);
    expect(renewed).not.toBe(before);
    expect([tokenRequests, sleeps]).toEqual([3, [2_000]]);
  });

  it('resends the request with the renewed token when the refresh after a 401 outlasts the API timeout', async () => {
    const alice = await linked('alice', 3_600_000);
    const bob = await linked('bob', 3_600_000);
    // The provider revoked Alice's token early: the API answers 401 although it has not expired.
    access.delete(store.tokens(alice).accessToken);
    // The token endpoint takes twice the API's timeout to answer.
    nextAnswers = [
      (res) => {
        setTimeout(() => {
          const pair = { access_token: 'ghu_alice_slow', refresh_token: 'ghr_alice_slow', expires_in: 28800, token_type: 'bearer' };
          access.set(pair.access_token, 'alice');
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(pair));
        }, 400);
      },
    ];
    const provider = createProviderClient({ clock, sleep: async () => {}, limits: { timeoutMs: 200 } });
    // The deadline covers the body too: each answer is read as it arrives.
    const as = async (c: Connection) => {
      const res = await provider.bind({ label: 'GitHub', apiBaseUrl: `${base}/api`, credentials: oauthCredentials(manager, c.id), paceKey: `github:${c.id}` })(
        '/user',
      );
      return [res.status, await res.json()];
    };
    expect(await Promise.all([as(alice), as(bob)])).toEqual([
      [200, { login: 'alice' }],
      [200, { login: 'bob' }],
    ]);
    expect(apiHits.filter((h) => h.login !== 'bob')).toEqual([
      { login: undefined, status: 401 },
      { login: 'alice', status: 200 },
    ]);
  });

  it('reads a refresh answer of JSON sent as text/plain as the code exchange reads it: the rotated token set is kept', async () => {
    const alice = await linked('alice', 1_000);
    clock.advance(2_000);
    // Some token endpoints label their JSON text/plain; this one rotates, so the old refresh token is spent.
    const spent = store.tokens(store.get(alice.id)!).refreshToken!;
    nextAnswers = [
      (res) => {
        refreshTokens.delete(spent);
        const pair = { access_token: 'ghu_alice_plain', refresh_token: 'ghr_alice_plain', expires_in: 28800, token_type: 'bearer' };
        access.set(pair.access_token, 'alice');
        refreshTokens.set(pair.refresh_token, 'alice');
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(JSON.stringify(pair));
      },
    ];
    expect(await manager.accessToken(alice.id)).toBe('ghu_alice_plain');
    const after = store.get(alice.id)!;
    expect(after).toMatchObject({ state: 'active', refreshOwner: null, accessExpiresAt: clock.now() + 28_800_000 });
    expect(store.tokens(after)).toMatchObject({ accessToken: 'ghu_alice_plain', refreshToken: 'ghr_alice_plain' });
  });

  it("reads GitHub's and Slack's errors sent with HTTP 200 as the provider's OAuth errors", async () => {
    const alice = await linked('alice', 1_000);
    const bob = await linked('bob', 1_000);
    clock.advance(2_000);
    // GitHub: a spent refresh token (the fake answers so for any token it does not know).
    refreshTokens.delete(store.tokens(alice).refreshToken!);
    expect(await failure(manager.accessToken(alice.id))).toMatchObject({ code: 'connection_needs_reauth' });
    expect(store.get(alice.id)).toMatchObject({
      state: 'needs_reauth',
      reason: 'the provider rejected the refresh token (bad_refresh_token: The refresh token passed is incorrect or expired.); link the account again',
    });
    // Slack: `ok:false` naming a passing trouble is worth another try and costs no connection...
    const slack =
      (error: string): TokenAnswer =>
      (res) =>
        void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error }));
    nextAnswers = [slack('ratelimited'), slack('ratelimited'), slack('ratelimited')];
    expect(await failure(manager.accessToken(bob.id))).toMatchObject({
      code: 'token_refresh_failed',
      message: 'could not refresh the github token: token endpoint answered 200 with ratelimited; try again shortly',
    });
    expect(store.get(bob.id)).toMatchObject({ state: 'active' });
    // ...and one naming a dead grant is that grant's end.
    nextAnswers = [slack('invalid_refresh_token')];
    expect(await failure(manager.accessToken(bob.id))).toMatchObject({ code: 'connection_needs_reauth' });
    expect(store.get(bob.id)!.reason).toBe('the provider rejected the refresh token (invalid_refresh_token); link the account again');
    // Redeeming a code: GitHub's bad_verification_code is the provider's refusal, named.
    nextAnswers = [
      (res) =>
        void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })),
    ];
    expect(await failure(client.redeemCode({ code: 'c0de', redirectUri: `${base}/cb`, codeVerifier: 'v'.repeat(43) }))).toMatchObject({
      code: 'oauth_grant_rejected',
      error: 'bad_verification_code',
      description: 'The code passed is incorrect or expired.',
      status: 200,
    });
  });
});

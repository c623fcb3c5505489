/**
 * A refresh the token endpoint refuses for a reason that is not the user's grant — the hub's client
 * credentials (invalid_client, GitHub's incorrect_client_credentials), the client's registration
 * (unauthorized_client), a redirect the hub does not follow, a 4xx without an OAuth error — keeps
 * the connection: the call fails with token_refresh_failed naming the cause and the fix, and once
 * the endpoint is right again the stored refresh token works. invalid_grant still ends the grant.
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
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

type Answer = (res: ServerResponse) => void;

const clock = manualClock(Date.now());
let server: Server;
let base: string;
/** Live refresh tokens (rotated on every use), and the scripted answers that come first. */
const live = new Set<string>();
let issued = 0;
let answers: Answer[] = [];

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Answer =>
  (res) =>
    void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const c of req) body += (c as Buffer).toString();
  const scripted = answers.shift();
  if (scripted) return scripted(res);
  const presented = new URLSearchParams(body).get('refresh_token') ?? '';
  if (!live.delete(presented)) return json(400, { error: 'invalid_grant', error_description: 'grant request is invalid' })(res);
  issued++;
  live.add(`rt_${issued}`);
  json(200, { access_token: `at_${issued}`, refresh_token: `rt_${issued}`, token_type: 'Bearer', expires_in: 3600 })(res);
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

describe('a refresh refused for a reason other than the grant', () => {
  let store: ConnectionStore;
  let manager: TokenManager;

  beforeEach(() => {
    answers = [];
    const db = openDb({ file: ':memory:', clock });
    store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const client = new OAuthClient({ authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: 's', scopes: [] }, clock);
    manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => client, sleep: async () => {} });
  });

  /** A linked account whose access token has expired. */
  async function expired(user: string): Promise<Connection> {
    issued++;
    live.add(`rt_${issued}`);
    const tokens = { accessToken: `at_${issued}`, refreshToken: `rt_${issued}`, tokenType: 'Bearer', expiresAt: clock.now() + 1_000 };
    const c = await sqliteConnections(store).link({ tenant: 'default', user, integration: 'acme', tokens, scopes: [] });
    clock.advance(2_000);
    return c;
  }
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  const credentials = "the provider refused the hub's client credentials";
  it.each([
    [
      '401 invalid_client',
      json(401, { error: 'invalid_client', error_description: 'client authentication failed' }),
      `${credentials} (invalid_client: client authentication failed): check the integration's clientId and clientSecret`,
    ],
    [
      "GitHub's 200 incorrect_client_credentials",
      json(200, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' }),
      `${credentials} (incorrect_client_credentials: The client_id and/or client_secret passed are incorrect.): check the integration's clientId and clientSecret`,
    ],
    [
      '400 unauthorized_client',
      json(400, { error: 'unauthorized_client' }),
      "the provider does not allow the hub's client to refresh tokens (unauthorized_client): check the client's registration at the provider (its grant types)",
    ],
    [
      'a 307 redirect',
      (res: ServerResponse) => void res.writeHead(307, { location: `${base}/elsewhere` }).end(),
      "the token endpoint answered 307, a redirect, which the hub does not follow (the refresh token is not sent elsewhere): check the integration's tokenUrl",
    ],
    [
      'a 404 page',
      (res: ServerResponse) => void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'),
      "the token endpoint answered 404 without an OAuth error, so the refresh token was not judged: check the integration's tokenUrl, or wait for the provider to recover",
    ],
  ])('%s: the call fails naming the cause, the connection is kept and refreshes once the endpoint is right', async (_name, answer, why) => {
    const c = await expired('alice');
    answers = [answer];
    expect(await failure(manager.accessToken(c.id))).toMatchObject({
      code: 'token_refresh_failed',
      message: `could not refresh the acme token: ${why}; the account stays linked and works again once that is fixed`,
    });
    expect(store.get(c.id)).toMatchObject({ state: 'active', reason: null, refreshOwner: null, refreshStartedAt: null, tokenVersion: 1 });
    // The endpoint is right again: the stored refresh token is sent, and accepted.
    expect(await manager.accessToken(c.id)).toBe(`at_${issued}`);
    expect(store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: 2 });
  });

  it('keeps an earlier attempt without a clear answer on record: a later refusal of the token names it', async () => {
    const c = await expired('bob');
    // A gateway's 502 (the provider may have rotated the token), then the client refused.
    answers = [json(502, {}), json(401, { error: 'invalid_client' })];
    expect(await failure(manager.accessToken(c.id))).toMatchObject({ code: 'token_refresh_failed' });
    expect(store.get(c.id)).toMatchObject({ state: 'active', refreshOwner: null });
    expect(store.get(c.id)!.refreshStartedAt).not.toBeNull();
    answers = [json(400, { error: 'invalid_grant' })];
    expect(await failure(manager.accessToken(c.id))).toMatchObject({ code: 'connection_needs_reauth' });
    expect(store.get(c.id)).toMatchObject({
      state: 'needs_reauth',
      reason:
        'the provider rejected the refresh token (invalid_grant) after an earlier refresh was interrupted before its result was saved; link the account again',
    });
  });

  it('goes on with an access token still valid, and still ends the grant on invalid_grant', async () => {
    issued++;
    live.add(`rt_${issued}`);
    const tokens = { accessToken: `at_${issued}`, refreshToken: `rt_${issued}`, tokenType: 'Bearer', expiresAt: clock.now() + 30_000 };
    const c = await sqliteConnections(store).link({ tenant: 'default', user: 'carol', integration: 'acme', tokens, scopes: [] });
    answers = [json(401, { error: 'invalid_client' })];
    expect(await manager.accessToken(c.id)).toBe(tokens.accessToken);
    expect(store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: 1 });
    answers = [json(400, { error: 'invalid_grant', error_description: 'grant request is invalid' })];
    expect(await failure(manager.accessToken(c.id))).toMatchObject({ code: 'connection_needs_reauth' });
    expect(store.get(c.id)).toMatchObject({
      state: 'needs_reauth',
      reason: 'the provider rejected the refresh token (invalid_grant: grant request is invalid); link the account again',
    });
  });
});

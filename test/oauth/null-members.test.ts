/**
 * Token answers whose optional members are written as `null` (or `""`, or an `expires_in` of 0),
 * as servers that serialise every field of their response type send them, against a local token
 * endpoint: a code is redeemed, and a refresh keeps the account active with the token set issued,
 * the old refresh token kept where the answer names none.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

const clock = manualClock(Date.now());
let server: Server;
let base: string;
/** The next token answer's body. */
let answer: Record<string, unknown> = {};
const grants: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      grants.push(new URLSearchParams(body).get('grant_type') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('token answers with null members', () => {
  const client = () =>
    new OAuthClient({ authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: 'hub-secret', scopes: [] }, clock);

  it('redeems a code whose answer writes refresh_token, scope, token_type and expires_in as null', async () => {
    answer = { access_token: 'at_1', token_type: null, refresh_token: null, scope: null, expires_in: null };
    const tokens = await client().exchangeCode({ code: 'code-1', redirectUri: `${base}/cb`, codeVerifier: 'v' });
    expect(tokens).toEqual({ accessToken: 'at_1', tokenType: 'Bearer' });
  });

  it('reads an expires_in of 0 and an empty refresh_token as not given', async () => {
    answer = { access_token: 'at_2', token_type: 'bearer', refresh_token: '', expires_in: 0 };
    expect(await client().exchangeCode({ code: 'code-2', redirectUri: `${base}/cb`, codeVerifier: 'v' })).toEqual({
      accessToken: 'at_2',
      tokenType: 'bearer',
    });
  });

  it('a refresh answered with "refresh_token": null keeps the account active, the new access token in use and the old refresh token kept', async () => {
    const db = openDb({ file: ':memory:', clock });
    const store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const c = client();
    const manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => c });
    const linked = await sqliteConnections(store).link({
      tenant: 'default',
      user: 'alice',
      integration: 'acme',
      tokens: { accessToken: 'at_old', refreshToken: 'rt_kept', tokenType: 'Bearer', expiresAt: clock.now() + 1_000 },
      scopes: [],
    });
    clock.advance(2_000);
    grants.length = 0;
    answer = { access_token: 'at_new', token_type: 'Bearer', expires_in: 3600, refresh_token: null, scope: null };
    expect(await manager.accessToken(linked.id)).toBe('at_new');
    expect(grants).toEqual(['refresh_token']);
    const after = store.get(linked.id)!;
    expect(after.state).toBe('active');
    expect(store.tokens(after)).toMatchObject({ accessToken: 'at_new', refreshToken: 'rt_kept', expiresAt: clock.now() + 3_600_000 });
  });
});

/**
 * Token answers that begin with a UTF-8 byte order mark, as servers on IIS/ASP.NET send their JSON,
 * against a local token endpoint: a refresh keeps the account active with the tokens issued (the
 * provider rotated the refresh token, so dropping the answer would lose the account), and an error
 * with a mark before it is read as the OAuth error it names.
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

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const clock = manualClock(Date.now());
let server: Server;
let base: string;
/** The next token answer: status and JSON body, sent after a byte order mark. */
let answer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' }).end(Buffer.concat([BOM, Buffer.from(JSON.stringify(answer.body))]));
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('token answers with a byte order mark', () => {
  function setup() {
    const db = openDb({ file: ':memory:', clock });
    const store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const client = new OAuthClient(
      { authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/connect/token`, clientId: 'hub', clientSecret: 'hub-secret', scopes: [] },
      clock,
    );
    const manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => client });
    return { store, manager };
  }
  async function linked(store: ConnectionStore) {
    return sqliteConnections(store).link({
      tenant: 'default',
      user: 'alice',
      integration: 'acme',
      tokens: { accessToken: 'at_1', refreshToken: 'rt_1', tokenType: 'Bearer', expiresAt: clock.now() + 1_000 },
      scopes: [],
    });
  }

  it('a refresh answered with a mark before its JSON is saved and used', async () => {
    const { store, manager } = setup();
    const c = await linked(store);
    clock.advance(2_000);
    answer = { status: 200, body: { access_token: 'at_2', refresh_token: 'rt_2', token_type: 'Bearer', expires_in: 3600 } };
    expect(await manager.accessToken(c.id)).toBe('at_2');
    const after = store.get(c.id)!;
    expect(after.state).toBe('active');
    expect(store.tokens(after)).toMatchObject({ accessToken: 'at_2', refreshToken: 'rt_2' });
  });

  it("an error answered with a mark is read as the error it names, the refusal of the hub's client keeping the account", async () => {
    const { store, manager } = setup();
    const c = await linked(store);
    clock.advance(2_000);
    answer = { status: 401, body: { error: 'invalid_client', error_description: 'unknown client' } };
    await expect(manager.accessToken(c.id)).rejects.toMatchObject({ code: 'token_refresh_failed' });
    expect(store.get(c.id)!.state).toBe('active');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { sqliteConnections, type ConnectionRepository } from '../../src/connections/repository.js';
import { ConnectionStore } from '../../src/connections/store.js';
import type { TokenSet } from '../../src/connections/types.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { tmpDir } from '../helpers/hub.js';

/**
 * A provider that issues no refresh token (GitHub OAuth Apps: no expiry, no refresh_token). When
 * the API refuses the access token, the connection needs a new link, and the reason says what
 * happened: the access token was refused and there is nothing to refresh with. The token
 * endpoint is never called, so no "invalid_grant" is reported as its answer.
 */
describe('a connection the provider issued no refresh token for', () => {
  const clock = manualClock(1_800_000_000_000);
  let tokenRequests = 0;
  let server: Server;
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let repo: ConnectionRepository;
  let manager: TokenManager;
  let user = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      tokenRequests++;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new OAuthClient({ authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'c', clientSecret: 's', scopes: [] }, clock);
    dir = tmpDir();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    repo = sqliteConnections(new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock));
    manager = new TokenManager({ store: repo, clock, log: silentLogger(), clientFor: () => client, marginMs: 60_000 });
  });
  afterAll(async () => {
    db.close();
    dir.remove();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    tokenRequests = 0;
  });

  const link = async (tokens: TokenSet) => repo.link({ tenant: 'default', user: `u${++user}`, integration: 'gh', tokens, scopes: [] });

  it('after a 401: needs_reauth, saying the access token was refused and there is no refresh token, without calling the token endpoint', async () => {
    const c = await link({ accessToken: 'gho_1', tokenType: 'bearer' });
    expect(await manager.credential(c.id)).toEqual({ accessToken: 'gho_1', version: c.tokenVersion });
    const err = await manager.afterUnauthorized(c.id, c.tokenVersion).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    const reason =
      'the provider refused the access token (HTTP 401) and there is no refresh token to get a new one (the provider issued none); link the account again';
    expect(err).toMatchObject({ code: 'connection_needs_reauth', message: `the gh connection is needs reauth: ${reason}` });
    expect(await repo.get(c.id)).toMatchObject({ state: 'needs_reauth', reason });
    expect(err?.message).not.toMatch(/invalid_grant|refresh token \(/);
    expect(tokenRequests).toBe(0);
  });

  it('with an expiry: used until it expires, then needs_reauth saying it expired', async () => {
    const c = await link({ accessToken: 'at_2', tokenType: 'Bearer', expiresAt: clock.now() + 3_600_000, obtainedAt: clock.now() });
    clock.advance(3_600_000 - 30_000); // within the refresh margin, not yet expired
    expect((await manager.credential(c.id)).accessToken).toBe('at_2');
    expect((await repo.get(c.id))?.state).toBe('active');
    clock.advance(30_000);
    await expect(manager.credential(c.id)).rejects.toMatchObject({ code: 'connection_needs_reauth' });
    expect(await repo.get(c.id)).toMatchObject({
      state: 'needs_reauth',
      reason: 'the access token has expired and there is no refresh token to get a new one (the provider issued none); link the account again',
    });
    expect(tokenRequests).toBe(0);
  });
});

/**
 * A hub stopped the way users stop it — an MCP client closing `switchboard stdio` (stdin ends, as
 * when Claude Desktop quits or reloads), SIGTERM to `switchboard serve` (a restart, a deploy) —
 * while a tool call refreshes a token: the provider has already rotated the refresh token, so the
 * stop waits for its answer and saves the new token set before the store closes. The account
 * keeps working after the restart, without a second refresh; a refresh asked for once the stop
 * has let the last ones finish is refused, not started.
 */
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
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';
import { TOOL, connectionRows, createToken, expireAccessToken, hubConfig, linkIn, linkWithBrowser, openHubDb, serve, writeConfig } from './support.js';

/** Holds the next refresh answer at the provider (the refresh token is already rotated) until released. */
function holdRefresh(oidc: OidcServer): { reached: Promise<void>; release: () => void } {
  let release = () => {};
  let reach = () => {};
  const released = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (reach = r));
  oidc.holdTokenAnswer = async (grantType) => {
    if (grantType !== 'refresh_token') return;
    reach();
    await released;
  };
  return { reached, release };
}

// Each test starts two or three hub processes and links an account through a browser: about 20 s
// on an idle 2-core machine, so the default 30 s leaves too little room on a loaded one.
describe('a hub stopped while a token refresh is in flight', { timeout: 90_000 }, () => {
  let oidc: OidcServer;

  beforeAll(async () => {
    oidc = await startOidcServer({ redirectUris: ['http://127.0.0.1:9/cb'] });
  });
  afterAll(async () => {
    await oidc?.close();
  });

  /** A data dir with alice's account linked through a `serve`, which is stopped again. */
  async function linkedDataDir(): Promise<{ dir: ReturnType<typeof tmpDir>; config: string; token: string }> {
    const dir = tmpDir();
    const config = writeConfig(dir.path, hubConfig(oidc, { logLevel: 'info' }));
    const token = await createToken(config, dir.path, 'alice');
    const hub = await serve(config, dir.path, oidc);
    const client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token });
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    expect((await client.callTool(TOOL, {})).isError).toBe(false);
    await client.close();
    await hub.kill();
    return { dir, config, token };
  }

  /** The connection after the stop: the refreshed set saved, no refresh left recorded as under way. */
  function expectSaved(dataDir: string, version: number): void {
    const db = openHubDb(dataDir);
    try {
      expect(connectionRows(db)[0]).toMatchObject({ state: 'active', reason: null, token_version: version + 1, refresh_owner: null, refresh_started_at: null });
    } finally {
      db.close();
    }
  }

  /** Expires alice's access token and starts a call whose refresh the provider holds; resolves once it is held. */
  async function callHeldMidRefresh(dataDir: string, client: FaceClient) {
    const db = openHubDb(dataDir);
    const [before] = connectionRows(db);
    expireAccessToken(db, before!.id);
    db.close();
    const refreshes = oidc.tokenRequests('refresh_token');
    const hold = holdRefresh(oidc);
    const call = client.callTool(TOOL, {}).catch((err: unknown) => err);
    await hold.reached;
    return { before, refreshes, hold, call };
  }

  it('stdio: the client closing stdin mid-refresh lets the refresh commit before the hub exits', async () => {
    const { dir, config } = await linkedDataDir();
    try {
      const args = [CLI, 'stdio', '--config', config, '--data', dir.path, '--user', 'alice', '--no-http'];
      // The 1.x SDK's stdio client, as desktop clients use: its close is the one the README describes.
      const stdio: FaceClient = await connectClient('v1', { transport: 'stdio', command: process.execPath, args });
      const { before, refreshes, hold, call } = await callHeldMidRefresh(dir.path, stdio);
      // The SDK's close ends stdin and waits for the process (SIGTERM after 2 s, SIGKILL after 4 s).
      const closed = stdio.close();
      await eventually(() => stdio.stderrTail().includes('shutting down'));
      hold.release();
      await closed;
      await call;
      oidc.holdTokenAnswer = undefined;
      expectSaved(dir.path, before!.token_version);

      // The next start uses the saved set: no refresh, the provider's newest access token.
      const again = await connectClient('v1', { transport: 'stdio', command: process.execPath, args });
      const r = await again.callTool(TOOL, {});
      await again.close();
      expect(r.isError, textOf(r)).toBe(false);
      expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
      expect(oidc.apiCalls.at(-1)).toMatchObject({ status: 200, token: oidc.issued.at(-1)!.accessToken });
    } finally {
      oidc.holdTokenAnswer = undefined;
      dir.remove();
    }
  });

  it('serve: SIGTERM mid-refresh lets the refresh commit before the hub exits', async () => {
    const { dir, config, token } = await linkedDataDir();
    try {
      const hub = await serve(config, dir.path, oidc);
      const client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token });
      const { before, refreshes, hold, call } = await callHeldMidRefresh(dir.path, client);
      const stopped = hub.kill('SIGTERM');
      await eventually(() => hub.output().includes('shutting down'));
      hold.release();
      await stopped;
      await call;
      await client.close().catch(() => {});
      oidc.holdTokenAnswer = undefined;
      expect(hub.child.exitCode).toBe(0);
      expectSaved(dir.path, before!.token_version);

      const restarted = await serve(config, dir.path, oidc);
      const again = await connectClient('v2-auto', { transport: 'http', url: restarted.url, token });
      const r = await again.callTool(TOOL, {});
      await again.close();
      await restarted.kill();
      expect(r.isError, textOf(r)).toBe(false);
      expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
    } finally {
      oidc.holdTokenAnswer = undefined;
      dir.remove();
    }
  });

  it('drain: waits for the refresh under way to be saved, then refuses to start another', async () => {
    const clock = manualClock(Date.now());
    const db = openDb({ file: ':memory:', clock });
    const store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock }), clock);
    const i = oidc.integration()['oauth'] as { authorizeUrl: string; tokenUrl: string; clientId: string; clientSecret: string };
    const client = new OAuthClient({ ...i, scopes: ['openid'] }, clock);
    const manager = new TokenManager({ store: sqliteConnections(store), clock, log: silentLogger(), clientFor: () => client, sleep: async () => {} });
    const link = async (user: string) => {
      const t = await oidc.obtainTokens(user, 'http://127.0.0.1:9/cb');
      const tokens = { accessToken: t.access_token, refreshToken: t.refresh_token, tokenType: 'Bearer', expiresAt: clock.now() + 1_000 };
      return sqliteConnections(store).link({ tenant: 'default', user, integration: 'acme', tokens, scopes: [] });
    };
    const [a, b] = [await link('ann'), await link('ben')];
    clock.advance(2_000);
    const hold = holdRefresh(oidc);
    const refreshing = manager.accessToken(a.id);
    await hold.reached;
    let drained = false;
    const drain = manager.drain().then(() => (drained = true));
    // Refused, not started: the store may close under it.
    await expect(manager.accessToken(b.id)).rejects.toMatchObject({
      code: 'token_refresh_failed',
      message: 'could not refresh the acme token: the hub is stopping; try again once it is back',
    });
    expect(drained).toBe(false);
    hold.release();
    await drain;
    oidc.holdTokenAnswer = undefined;
    expect(store.get(a.id)).toMatchObject({ state: 'active', tokenVersion: 2, refreshOwner: null, refreshStartedAt: null });
    expect(await refreshing).toBe(oidc.issued.at(-1)!.accessToken);
    expect(store.get(b.id)).toMatchObject({ state: 'active', tokenVersion: 1, refreshStartedAt: null });
  });
});

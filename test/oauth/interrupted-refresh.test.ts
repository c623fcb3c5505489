/**
 * A hub killed between the provider's refresh answer and its own commit has lost the rotated
 * refresh token for good. What is left must not fail silently: the next process recognises the
 * interrupted refresh (its lease holder is dead), and either recovers or marks the connection
 * needs_reauth with a reason that says so — and the tool tells the user to link again.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { eventually, tmpDir, type RunningHub } from '../helpers/hub.js';
import {
  TOOL,
  connectionRows,
  createToken,
  expireAccessToken,
  hubConfig,
  linkIn,
  linkWithBrowser,
  openHubDb,
  serve,
  startOidcHub,
  writeConfig,
  type ServeProcess,
} from './support.js';

/** True while the process answers HTTP; false once its event loop is stuck (e.g. waiting on a lock). */
async function answers(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(300) })).ok;
  } catch {
    return false;
  }
}

describe('a refresh interrupted between the token response and the commit', () => {
  const dir = tmpDir();
  let oidc: OidcServer;
  let first: ServeProcess | undefined;
  let second: RunningHub | undefined;
  let configFile: string;
  let locker: Database.Database | undefined;

  beforeAll(async () => {
    oidc = await startOidcServer();
    configFile = writeConfig(dir.path, hubConfig(oidc, { logLevel: 'warn' }));
  });

  afterAll(async () => {
    if (locker?.inTransaction) locker.exec('ROLLBACK');
    locker?.close();
    await first?.kill('SIGKILL');
    await second?.stop();
    await oidc?.close();
    dir.remove();
  });

  it('ends needs_reauth with a reason naming the interruption, and the tool answers with a link', async () => {
    const token = await createToken(configFile, dir.path, 'alice');
    first = await serve(configFile, dir.path, oidc);
    const client: FaceClient = await connectClient('v2-auto', { transport: 'http', url: first.url, token });
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    expect((await client.callTool(TOOL, {})).isError).toBe(false);

    const db = openHubDb(dir.path);
    const [linked] = connectionRows(db);
    expireAccessToken(db, linked!.id);
    db.close();

    // When the refresh reaches the provider, take the database's write lock from outside; the
    // provider then answers (the refresh token is rotated), and the hub's commit blocks on the lock.
    locker = new Database(join(dir.path, 'switchboard.db'));
    oidc.holdTokenAnswer = (grantType) => {
      if (grantType === 'refresh_token' && !locker!.inTransaction) locker!.exec('BEGIN IMMEDIATE');
    };
    const answered = oidc.tokenAnswered('refresh_token');
    const call = client.callTool(TOOL, {}).then(
      () => 'answered',
      () => 'failed',
    );
    expect(await answered).toBe(200);
    oidc.holdTokenAnswer = undefined;
    // The hub is stuck in its commit (better-sqlite3 waits for the lock synchronously): kill it there.
    await eventually(async () => !(await answers(first!.port)), 4_000, 10);
    await first.kill('SIGKILL');
    expect(await call).toBe('failed');
    await client.close().catch(() => {});
    locker.exec('ROLLBACK');

    const [interrupted] = connectionRows(locker);
    // The lease is still recorded, held by a dead process, and the old token set is what is stored.
    expect(interrupted).toMatchObject({ state: 'active', token_version: linked!.token_version, tokens: linked!.tokens });
    expect(interrupted!.refresh_owner).toContain(`:${first.child.pid}:`);
    expect(interrupted!.refresh_started_at).not.toBeNull();

    // A new hub on the same data: its tool call meets the dead lease and the spent refresh token.
    const hub = await startOidcHub(oidc, {}, { dataDir: dir.path });
    second = hub;
    const again = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await again.callTool(TOOL, {});
      const [after] = connectionRows(locker);
      if (!r.isError) {
        // The provider took the old refresh token after all: the connection recovered.
        expect(after!.state).toBe('active');
        return;
      }
      expect(after!.state).toBe('needs_reauth');
      expect(after!.reason).toMatch(/after an earlier refresh was interrupted before its result was saved; link the account again/);
      expect(textOf(r)).toContain('needs to be linked again');
      expect(textOf(r)).toContain('interrupted');
      expect(linkIn(r)).toContain(`http://127.0.0.1:${hub.port}/oauth/acme/start?link=`);
      // Reuse detection revoked the grant: the provider saw the spent token and refused it.
      expect(oidc.tokenRequests('refresh_token')).toBe(2);

      // Linking again brings the connection back.
      await linkWithBrowser(new Browser(), linkIn(r), 'alice@acme');
      const ok = await again.callTool(TOOL, {});
      expect(ok.isError, textOf(ok)).toBe(false);
      expect(connectionRows(locker)[0]).toMatchObject({ id: linked!.id, state: 'active', reason: null });
    } finally {
      await again.close();
    }
  });

  it('retries a commit that waited too long for the database lock, never the spent refresh token', async () => {
    const dataDir = tmpDir();
    const token = await createToken(configFile, dataDir.path, 'alice');
    const hub = await serve(configFile, dataDir.path, oidc);
    const client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token });
    const lock = new Database(join(dataDir.path, 'switchboard.db'));
    try {
      await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
      const db = openHubDb(dataDir.path);
      const [linked] = connectionRows(db);
      expireAccessToken(db, linked!.id);
      db.close();
      const refreshes = oidc.tokenRequests('refresh_token');

      oidc.holdTokenAnswer = (grantType) => {
        if (grantType === 'refresh_token' && !lock.inTransaction) lock.exec('BEGIN IMMEDIATE');
      };
      const answered = oidc.tokenAnswered('refresh_token');
      const call = client.callTool(TOOL, {});
      expect(await answered).toBe(200);
      oidc.holdTokenAnswer = undefined;
      // Blocked in the commit, then back once SQLite gave up waiting for the lock (busy_timeout).
      await eventually(async () => !(await answers(hub.port)), 4_000, 10);
      await eventually(() => answers(hub.port), 15_000, 50);
      lock.exec('ROLLBACK');

      const r = await call;
      expect(r.isError, textOf(r)).toBe(false);
      expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
      const [after] = connectionRows(lock);
      expect(after).toMatchObject({ state: 'active', token_version: linked!.token_version + 1, refresh_owner: null, refresh_started_at: null });
    } finally {
      oidc.holdTokenAnswer = undefined;
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
      await client.close().catch(() => {});
      await hub.kill();
      dataDir.remove();
    }
  }, 40_000);
});

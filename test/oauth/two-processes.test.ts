/**
 * Two `switchboard serve` processes on one data directory share a connection. When its access
 * token expires under load on both, exactly one refresh reaches the authorization server — the
 * lease row decides across processes — and every call succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { tmpDir } from '../helpers/hub.js';
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
  writeConfig,
  type ServeProcess,
} from './support.js';

describe('two hub processes on one database', () => {
  const dir = tmpDir();
  let oidc: OidcServer;
  const hubs: ServeProcess[] = [];
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    const config = writeConfig(dir.path, hubConfig(oidc, { logLevel: 'warn' }));
    const token = await createToken(config, dir.path, 'alice');
    // One after the other: the first start creates the master key file the second one reads.
    for (let i = 0; i < 2; i++) hubs.push(await serve(config, dir.path, oidc));
    for (const h of hubs) clients.push(await connectClient('v2-auto', { transport: 'http', url: h.url, token }));
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const h of hubs) await h.kill();
    await oidc?.close();
    dir.remove();
  });

  it('refreshes once for 25 concurrent calls on each process', async () => {
    const [a, b] = clients as [FaceClient, FaceClient];
    await linkWithBrowser(new Browser(), linkIn(await a.callTool(TOOL, {})), 'alice@acme');
    // Linked through the first process, usable through the second.
    for (const c of clients) expect((await c.callTool(TOOL, {})).isError).toBe(false);

    const db = openHubDb(dir.path);
    try {
      const [row] = connectionRows(db);
      expireAccessToken(db, row!.id);
      const calls = [...Array.from({ length: 25 }, () => a.callTool(TOOL, {})), ...Array.from({ length: 25 }, () => b.callTool(TOOL, {}))];
      const results = await Promise.all(calls);
      expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
      expect(oidc.tokenRequests('refresh_token')).toBe(1);
      const refreshed = oidc.issued.at(-1)!;
      expect(refreshed.grantType).toBe('refresh_token');
      expect(oidc.apiCalls.slice(-50).every((c) => c.status === 200 && c.token === refreshed.accessToken)).toBe(true);
      const [after] = connectionRows(db);
      expect(after).toMatchObject({ state: 'active', token_version: row!.token_version + 1, refresh_owner: null, refresh_started_at: null });
      expect(after!.access_expires_at).toBeGreaterThan(Date.now());
    } finally {
      db.close();
    }
  });
});

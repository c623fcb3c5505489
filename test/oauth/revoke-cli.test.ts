/**
 * `switchboard connections revoke <id>` revokes the grant at the provider (RFC 7009), forgets the
 * stored tokens, and the next tool call answers with a link instead of failing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import type { OidcServer } from '../fakes/oidc.js';
import { textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, connectionRows, hubConfig, linkIn, linkWithBrowser, openHubDb, runCli, writeConfig, useOidcHub } from './support.js';

describe('connections revoke', () => {
  const env = useOidcHub();
  let oidc: OidcServer;
  let hub: RunningHub;
  let client: FaceClient;
  beforeAll(() => {
    ({ oidc, hub, client } = env);
  });

  it('revokes at the provider, deletes the tokens, and the next call answers with a link', async () => {
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    expect((await client.callTool(TOOL, {})).isError).toBe(false);
    const { accessToken } = oidc.issued.at(-1)!;
    const db = openHubDb(hub.dataDir);
    try {
      const [row] = connectionRows(db);
      expect(row).toMatchObject({ state: 'active' });

      // The CLI runs beside the serving hub, on the same data dir and config.
      const config = writeConfig(hub.dataDir, hubConfig(oidc, { server: { port: hub.port } }));
      const r = await runCli(['connections', 'revoke', row!.id, '--config', config, '--data', hub.dataDir], hub.dataDir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`revoked ${row!.id} (the provider confirmed)\n`);
      // Every command names the data dir it uses; nothing else (no warning) is printed.
      expect(r.stderr).toBe(`data dir: ${hub.dataDir} (from --data)\n`);
      expect(oidc.revocations()).toBe(1);

      expect(connectionRows(db)).toEqual([expect.objectContaining({ id: row!.id, state: 'revoked', reason: 'revoked by the user', tokens: null })]);
      // Revoking the refresh token ended the grant: the provider no longer accepts its access token either.
      const direct = await fetch(`${oidc.apiBaseUrl}/things`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(direct.status).toBe(401);

      const apiCalls = oidc.apiCalls.length;
      const next = await client.callTool(TOOL, {});
      expect(next.isError).toBe(true);
      expect(textOf(next)).toContain('Link your Acme account to use this tool');
      expect(linkIn(next)).toContain(`http://127.0.0.1:${hub.port}/oauth/acme/start?link=`);
      // The hub did not try the API with forgotten tokens (the one above was the test's own).
      expect(oidc.apiCalls.length).toBe(apiCalls);
    } finally {
      db.close();
    }
  });
});

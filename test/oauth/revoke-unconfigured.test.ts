/**
 * `switchboard connections revoke` of a connection whose integration was taken out of the config
 * cannot reach the provider's revocation endpoint: it still forgets the tokens, but says that the
 * provider was not asked, since the provider goes on honouring them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import type { OidcServer } from '../fakes/oidc.js';
import type { FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, connectionRows, linkIn, linkWithBrowser, openHubDb, runCli, writeConfig, useOidcHub } from './support.js';

describe('connections revoke of an integration no longer configured', () => {
  const env = useOidcHub();
  let oidc: OidcServer;
  let hub: RunningHub;
  let client: FaceClient;
  beforeAll(() => {
    ({ oidc, hub, client } = env);
  });

  it('forgets the tokens and warns that the provider was not asked to revoke them', async () => {
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    const db = openHubDb(hub.dataDir);
    try {
      const [row] = connectionRows(db);
      expect(row).toMatchObject({ state: 'active' });

      const config = writeConfig(hub.dataDir, { server: { port: hub.port }, integrations: {} });
      const r = await runCli(['connections', 'revoke', row!.id, '--config', config, '--data', hub.dataDir], hub.dataDir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`revoked ${row!.id}\n`);
      expect(r.stderr).toBe(
        `data dir: ${hub.dataDir} (from --data)\n` +
          "warning: integration acme is not in the config: the provider was not asked to revoke the account's tokens; revoke the app's access at the provider\n",
      );
      expect(oidc.revocations()).toBe(0);
      expect(connectionRows(db)).toEqual([expect.objectContaining({ id: row!.id, state: 'revoked', reason: 'revoked by the user', tokens: null })]);
    } finally {
      db.close();
    }
  });
});

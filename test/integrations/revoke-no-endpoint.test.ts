/**
 * An integration whose `oauth` names no `revokeUrl` (GitHub has no RFC 7009 endpoint) cannot ask
 * the provider to revoke anything: `connections revoke` and the /connect page's button forget the
 * tokens all the same, but say that the provider was not asked, since it goes on honouring them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { TOOL, callbackOf, connectionRows, linkIn, linkWithBrowser, openHubDb, runCli, writeConfig } from '../oauth/support.js';

function withoutRevokeUrl(oidc: OidcServer): Record<string, unknown> {
  const entry = oidc.integration() as Record<string, unknown> & { oauth: Record<string, unknown> };
  const { revokeUrl: _none, ...oauth } = entry.oauth;
  return { ...entry, oauth };
}

describe('revoking a connection whose integration has no revokeUrl', () => {
  let oidc: OidcServer;
  let hub: RunningHub;
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    hub = await startHub({ integrations: { acme: withoutRevokeUrl(oidc) } });
    await oidc.allowRedirectUri(callbackOf(hub.port));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    await oidc?.close();
  });

  async function linked(user: string): Promise<string> {
    const { token } = await hub.hub.tokens.create({ user });
    const client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token });
    clients.push(client);
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), `${user}@acme`);
    const c = await hub.hub.integrations.accounts.connections.find('default', user, 'acme');
    expect(c).toMatchObject({ state: 'active' });
    return c!.id;
  }

  it('the CLI forgets the tokens and warns that the provider was not asked, naming the missing key', async () => {
    const id = await linked('alice');
    const config = writeConfig(hub.dataDir, { server: { port: hub.port }, integrations: { acme: withoutRevokeUrl(oidc) } });
    const r = await runCli(['connections', 'revoke', id, '--config', config, '--data', hub.dataDir], hub.dataDir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`revoked ${id}\n`);
    expect(r.stderr).toContain(
      "warning: integrations.acme.oauth has no revokeUrl: the provider was not asked to revoke the account's tokens; revoke the app's access at the provider\n",
    );
    expect(oidc.revocations()).toBe(0);
    const db = openHubDb(hub.dataDir);
    try {
      expect(connectionRows(db).find((row) => row.id === id)).toMatchObject({ state: 'revoked', tokens: null });
    } finally {
      db.close();
    }
  });

  it('the /connect page says the provider was not asked, not that it did not confirm', async () => {
    await linked('dave');
    const browser = new Browser();
    const origin = `http://127.0.0.1:${hub.port}`;
    expect((await browser.get(hub.hub.integrations.accounts.connectUrl({ tenant: 'default', user: 'dave', scopes: [] }))).status).toBe(303);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await browser.get(`${origin}/connect`)).text())![1]!;
    const revoked = await browser.post(`${origin}/connect/revoke`, { integration: 'acme', csrf });
    expect(revoked.headers.get('location')).toBe('/connect?revoked=acme&confirmed=unasked');
    const page = await (await browser.get(`${origin}${revoked.headers.get('location')}`)).text();
    expect(page).toContain('The provider was not asked to revoke them (this integration names no revocation endpoint)');
    expect(page).not.toContain('did not confirm');
    expect(oidc.revocations()).toBe(0);
  });

  it("another user's revoke through the hub says the same, and the first user's connection is untouched by it", async () => {
    const bob = await linked('bob');
    const carol = await linked('carol');
    const c = (await hub.hub.integrations.accounts.connections.get(bob))!;
    const r = await hub.hub.integrations.accounts.revoke(c);
    expect(r).toEqual({ providerRevoked: false, asked: false, warning: expect.stringContaining('integrations.acme.oauth has no revokeUrl') });
    expect(await hub.hub.integrations.accounts.connections.get(carol)).toMatchObject({ state: 'active' });
  });
});

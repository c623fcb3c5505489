/**
 * A revocation endpoint on another origin than the token endpoint, as Intuit's is (token endpoint
 * on oauth.platform.intuit.com, revocation_endpoint on developer.api.intuit.com): RFC 7009 and
 * RFC 8414 put it wherever the provider likes. The hub starts with such a config, and revoking a
 * connection posts the token, with the client's credentials, to the URL the config names. The
 * "other host" is a relay on its own port in front of the real authorization server's endpoint.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, linkIn, linkWithBrowser, startOidcHub } from './support.js';

const REVOKE_PATH = '/v2/oauth2/tokens/revoke';

describe('a revocation endpoint on another origin than the token endpoint', () => {
  let oidc: OidcServer;
  let relay: Server;
  let hub: RunningHub;
  let client: FaceClient;
  const relayed: Array<{ path: string; basicAuth: boolean }> = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    // Hands what it gets on to the authorization server's own revocation endpoint, and its answer back.
    relay = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        relayed.push({ path: req.url ?? '', basicAuth: (req.headers.authorization ?? '').startsWith('Basic ') });
        const headers = { 'content-type': req.headers['content-type'] ?? '', authorization: req.headers.authorization ?? '' };
        void fetch(`${oidc.issuer}/token/revocation`, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
          async (r) => void res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' }).end(await r.text()),
          () => void res.writeHead(502).end(),
        );
      });
    }).listen(0, '127.0.0.1');
    await once(relay, 'listening');
    const elsewhere = `http://127.0.0.1:${(relay.address() as AddressInfo).port}${REVOKE_PATH}`;
    const acme = oidc.integration() as { oauth: Record<string, unknown> };
    hub = await startOidcHub(oidc, { integrations: { acme: { ...acme, oauth: { ...acme.oauth, revokeUrl: elsewhere } } } });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    relay?.closeAllConnections();
    await new Promise((r) => relay?.close(r));
    await oidc?.close();
  });

  it('starts the hub, and a revocation goes to the configured URL, which ends the grant', async () => {
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    const { accessToken } = oidc.issued.at(-1)!;
    const [connection] = await hub.hub.integrations.accounts.connections.list({});
    expect(connection).toMatchObject({ integration: 'acme', state: 'active' });

    expect(await hub.hub.integrations.accounts.revoke(connection!)).toEqual({ providerRevoked: true, asked: true });
    expect(relayed).toEqual([{ path: REVOKE_PATH, basicAuth: true }]);
    expect(oidc.revocations()).toBe(1);
    // The authorization server ended the grant: its access token is refused too.
    const direct = await fetch(`${oidc.apiBaseUrl}/things`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(direct.status).toBe(401);
  });
});

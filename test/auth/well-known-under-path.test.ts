/**
 * A hub served under a path (`server.publicUrl` `…/base/`) whose host's `/.well-known/` reaches it
 * unstripped (a proxy rule for the RFC 8414 and RFC 9728 addresses, which lie outside `/base`):
 * the metadata is there too, as those RFCs place it for an issuer and a resource with a path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { PREFIX, prefixProxy, type PrefixProxy } from '../helpers/prefix-proxy.js';

describe('discovery at the RFC 8414 and RFC 9728 addresses of a hub under a path', () => {
  let proxy: PrefixProxy;
  let hub: RunningHub;
  let direct: string;
  beforeAll(async () => {
    proxy = await prefixProxy();
    hub = await startHub({ mcpServers: { files: fixtureStdio() }, server: { publicUrl: `${proxy.base}/` } });
    proxy.upstream = hub.port;
    // What the proxy sends on for `/.well-known/…` when it routes it to the hub as it is.
    direct = `http://127.0.0.1:${hub.port}`;
  });
  afterAll(async () => {
    await hub?.stop();
    await proxy?.close();
  });

  it('serves the authorization server metadata at /.well-known/oauth-authorization-server/base and openid-configuration/base', async () => {
    for (const doc of ['oauth-authorization-server', 'openid-configuration']) {
      const res = await fetch(`${direct}/.well-known/${doc}${PREFIX}`);
      expect([doc, res.status]).toEqual([doc, 200]);
      expect(await res.json()).toMatchObject({ issuer: proxy.base, token_endpoint: `${proxy.base}/token` });
    }
  });

  it('serves the resource metadata at /.well-known/oauth-protected-resource/base/mcp', async () => {
    const res = await fetch(`${direct}/.well-known/oauth-protected-resource${PREFIX}/mcp`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ resource: `${proxy.base}/mcp`, authorization_servers: [proxy.base] });
  });

  it('still answers at the addresses inside the path, and 404 for another path', async () => {
    const inside = await fetch(`${proxy.base}/.well-known/oauth-authorization-server`);
    expect(await inside.json()).toMatchObject({ issuer: proxy.base });
    const other = await fetch(`${direct}/.well-known/oauth-authorization-server/other`);
    await other.body?.cancel();
    expect(other.status).toBe(404);
  });
});

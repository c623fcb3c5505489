/**
 * The hub behind a reverse proxy that serves it under a path and strips it (nginx's
 * `location /base/ { proxy_pass http://hub/; }`), `server.publicUrl` naming that path: an MCP
 * client and the user's browser only ever reach the hub through the proxy, so every endpoint the
 * metadata lists, every redirect, form and cookie Path of the sign-in must be under `/base`.
 */
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { PREFIX, prefixProxy, type PrefixProxy } from '../helpers/prefix-proxy.js';
import { MemoryOAuthClient, REDIRECT, authorizeUrl, formOf, initialize, pageAfterRedirects, pkce, register, signIn, tokenRequest } from './support.js';

/** A hub whose public URL is the proxy's `/base/`, behind it. */
async function hubBehind(proxy: PrefixProxy, config: Record<string, unknown> = {}): Promise<RunningHub> {
  const hub = await startHub({ mcpServers: { files: fixtureStdio() }, ...config, server: { publicUrl: `${proxy.base}/` } });
  proxy.upstream = hub.port;
  return hub;
}

/** Connects the MCP SDK's client through the proxy; false when it stopped for the browser step. */
async function connect(url: string, oauth: MemoryOAuthClient): Promise<Client | false> {
  const client = new Client({ name: 'behind-proxy', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: oauth }));
  } catch (err) {
    if (err instanceof UnauthorizedError) return false;
    throw err;
  }
  return client;
}

describe('the hub behind a proxy that serves it under a path', () => {
  let proxy: PrefixProxy;
  let hub: RunningHub;
  let base: string;
  beforeAll(async () => {
    proxy = await prefixProxy();
    hub = await hubBehind(proxy);
    base = proxy.base;
  });
  afterAll(async () => {
    await hub?.stop();
    await proxy?.close();
  });

  it('lists every endpoint of its authorization server under the public URL', async () => {
    for (const doc of ['openid-configuration', 'oauth-authorization-server']) {
      const res = await fetch(`${base}/.well-known/${doc}`);
      expect(res.status).toBe(200);
      const meta = (await res.json()) as Record<string, unknown>;
      expect(meta).toMatchObject({
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        registration_endpoint: `${base}/register`,
        revocation_endpoint: `${base}/revoke`,
        jwks_uri: `${base}/jwks`,
      });
      const urls = Object.values(meta).filter((v): v is string => typeof v === 'string' && /^https?:/.test(v));
      expect(urls.filter((u) => u !== base && !u.startsWith(`${base}/`))).toEqual([]);
    }
    const jwks = await fetch(`${base}/jwks`);
    expect(jwks.status).toBe(200);
    await jwks.body?.cancel();
  });

  it('an MCP client discovers, registers, has the user sign in and consent, gets a token and uses /mcp, all through the proxy', async () => {
    const oauth = new MemoryOAuthClient('Behind a proxy');
    expect(await connect(`${base}/mcp`, oauth)).toBe(false);
    expect(oauth.registrations).toHaveLength(1);
    const authorize = oauth.authorizationUrl!;
    expect(authorize.origin + authorize.pathname).toBe(`${base}/authorize`);
    expect(authorize.searchParams.get('resource')).toBe(`${base}/mcp`);

    const browser = new Browser();
    const { callback, pages } = await signIn(authorize, hub.token, { browser });
    expect(pages).toHaveLength(2);
    expect(formOf(pages[0]!).action).toMatch(/^\/base\/sign-in\/[^/]+\/login$/);
    expect(formOf(pages[1]!).action).toMatch(/^\/base\/sign-in\/[^/]+\/consent$/);
    expect(callback.searchParams.get('iss')).toBe(base);
    // The sign-in session's cookie is the hub's, under its path; the interaction's, under its pages.
    expect(browser.cookies.filter((c) => c.name.startsWith('_session'))).toEqual([
      expect.objectContaining({ name: '_session', path: PREFIX }),
      expect.objectContaining({ name: '_session.sig', path: PREFIX }),
    ]);
    expect(browser.cookies.filter((c) => !c.path.startsWith(`${PREFIX}/`) && c.path !== PREFIX)).toEqual([]);

    await new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: oauth }).finishAuth(callback.searchParams);
    const client = await connect(`${base}/mcp`, oauth);
    expect(client).not.toBe(false);
    if (client === false) return;
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('files__echo');
    await client.close();
    // Outside the path only the discovery URLs RFC 8414 and 9728 build by inserting the well-known part before it.
    expect(proxy.unrouted.filter((u) => !u.startsWith('/.well-known/'))).toEqual([]);
  });

  it('"sign in as someone else" starts the request again under the path, at its sign-in form', async () => {
    const browser = new Browser();
    const clientId = String((await register(base)).body['client_id']);
    await signIn(authorizeUrl(base, clientId, pkce()), hub.token, { browser });
    // The same browser, another app: signed in already, straight to consent.
    const other = String((await register(base, 'Another app')).body['client_id']);
    const { html, url } = await pageAfterRedirects(browser, authorizeUrl(base, other, pkce()));
    expect(html).toContain('<b>alice</b>');
    const form = formOf(html);
    const switched = await browser.post(new URL(form.action, url).href, { csrf: form.csrf, decision: 'switch' });
    expect(switched.status).toBe(303);
    const again = switched.headers.get('location')!;
    await switched.body?.cancel();
    expect(again).toMatch(/^\/base\/authorize\?/);
    expect(new URL(again, base).searchParams.get('prompt')).toBe('login');
    const signInForm = formOf((await pageAfterRedirects(browser, new URL(again, base))).html);
    expect(signInForm.action).toMatch(/^\/base\/sign-in\/[^/]+\/login$/);
  });
});

describe('single sign-on behind a proxy that serves the hub under a path', () => {
  let oidc: OidcServer;
  let proxy: PrefixProxy;
  let hub: RunningHub;
  beforeAll(async () => {
    oidc = await startOidcServer();
    // The company's sign-in is on another host, as in life: the test browser, like browsers, keeps
    // cookies per host name whatever the port, and (unlike them) does not send the longest Path
    // first, so the identity provider's `_session` on 127.0.0.1 would be read as the hub's.
    proxy = await prefixProxy('localhost');
    hub = await hubBehind(proxy, { auth: { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret } } });
    await oidc.allowRedirectUri(`${proxy.base}/sign-in/sso/callback`);
  });
  afterAll(async () => {
    await hub?.stop();
    await proxy?.close();
    await oidc?.close();
  });

  it('comes back through the callback under the path to consent, and the token works at /mcp', async () => {
    const base = proxy.base;
    const clientId = String((await register(base)).body['client_id']);
    const p = pkce();
    const browser = new Browser();
    const seen: URL[] = [];
    const consent = await browser.authorize(authorizeUrl(base, clientId, p).href, {
      login: 'carol',
      stopAt: (url) => {
        seen.push(url);
        return seen.some((u) => u.pathname.startsWith(`${PREFIX}/authorize/`)) && /^\/base\/sign-in\/[^/]+$/.test(url.pathname);
      },
    });
    const toCompany = seen.find((u) => u.origin === oidc.issuer && u.pathname === '/auth');
    expect(toCompany?.searchParams.get('redirect_uri')).toBe(`${base}/sign-in/sso/callback`);
    expect(seen.find((u) => u.pathname === `${PREFIX}/sign-in/sso/callback`)).toBeDefined();
    expect(seen.find((u) => /^\/base\/sign-in\/[^/]+\/sso$/.test(u.pathname))).toBeDefined();

    const { callback, pages } = await signIn(consent, '', { browser });
    expect(pages[0]).toContain('Signed in as <b>carol</b>');
    const tokens = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
    });
    expect(tokens.status).toBe(200);
    const res = await initialize(`${base}/mcp`, String(tokens.body['access_token']));
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect(proxy.unrouted).toEqual([]);
  });
});

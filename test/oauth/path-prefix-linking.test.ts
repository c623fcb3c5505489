/**
 * Linking an account and managing it on /connect with the hub behind a reverse proxy that serves it
 * under a path and strips it (`server.publicUrl` http://proxy/base/): the browser only ever
 * reaches the hub through the proxy, so every form it posts, every redirect it follows and every
 * cookie Path the hub sets must be under `/base`. The provider is a real oidc-provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/identity.js';
import { initialize, obtainTokens } from '../auth/support.js';
import { Browser, hubConfirmation } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { PREFIX, prefixProxy, type PrefixProxy } from '../helpers/prefix-proxy.js';
import { TOOL, hubConfig, linkIn } from './support.js';

const ALICE: Identity = { tenant: 'default', user: 'alice', scopes: [] };
const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");

/** Each form of a page: where it posts and its hidden fields. */
function formsOf(html: string): Array<{ action: string; fields: Record<string, string> }> {
  return [...html.matchAll(/<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/g)].map((m) => ({
    action: unescapeHtml(m[1]!),
    fields: Object.fromEntries([...m[2]!.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((f) => [f[1]!, unescapeHtml(f[2]!)])),
  }));
}

describe('linking and /connect behind a proxy that serves the hub under a path', () => {
  let oidc: OidcServer;
  let proxy: PrefixProxy;
  let hub: RunningHub;
  let client: FaceClient;
  let base: string;
  // One browser throughout, as one user's: the hub's cookies must come back to it through the proxy.
  const browser = new Browser();
  /** The hub's cookies in the browser (the provider's are on another host name). */
  const hubCookies = () => browser.cookies.filter((c) => c.host === 'localhost');

  beforeAll(async () => {
    oidc = await startOidcServer();
    // Another host name than the provider's 127.0.0.1: the test browser keeps cookies per host name.
    proxy = await prefixProxy('localhost');
    base = proxy.base;
    hub = await startHub(hubConfig(oidc, { server: { publicUrl: `${base}/` } }));
    proxy.upstream = hub.port;
    await oidc.allowRedirectUri(`${base}/oauth/callback`);
    client = await connectClient('v2-auto', { transport: 'http', url: `${base}/mcp`, token: hub.token });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await proxy?.close();
    await oidc?.close();
  });

  /** Follows the hub's redirects through the proxy, as a browser would, to the page at the end. */
  async function open(url: string): Promise<{ url: string; status: number; html: string }> {
    let at = new URL(url);
    for (let hop = 0; hop < 5; hop++) {
      const res = await browser.get(at.href);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) return { url: at.href, status: res.status, html: await res.text() };
      await res.body?.cancel();
      at = new URL(location, at);
    }
    throw new Error(`too many redirects from ${url}`);
  }

  it('a user links an account from the link a tool gives: confirms, signs in at the provider, comes back to the success page', async () => {
    const unlinked = await client.callTool(TOOL, {});
    expect(unlinked.isError).toBe(true);
    const link = linkIn(unlinked);
    expect(link.startsWith(`${base}/oauth/acme/start?link=`)).toBe(true);

    const confirm = await browser.get(link);
    const html = await confirm.text();
    expect(confirm.status, html).toBe(200);
    const [form] = formsOf(html);
    expect(form?.action).toBe(`${PREFIX}/oauth/acme/start`);
    const started = await browser.post(new URL(form!.action, link).href, hubConfirmation(html)!);
    expect(started.status, await started.clone().text()).toBe(303);
    const authorize = new URL(started.headers.get('location')!);
    await started.body?.cancel();
    expect(authorize.origin).toBe(oidc.issuer);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${base}/oauth/callback`);

    const callback = await browser.authorize(authorize.href, { login: 'alice@acme' });
    expect(callback.startsWith(`${base}/oauth/callback?`)).toBe(true);
    const done = await open(callback);
    expect(done.status, done.html).toBe(200);
    expect(done.html).toContain('Your Acme account is linked to the Switchboard user <strong>alice</strong>.');

    const r = await client.callTool(TOOL, {});
    expect(r.isError, textOf(r)).toBe(false);
    expect(r.structuredContent).toMatchObject({ account: 'alice@acme' });
    // The link's cookie is under its start page; the flow's was sent to the callback, which cleared it.
    expect(hubCookies()).toEqual([expect.objectContaining({ name: expect.stringMatching(/^sb_link_/), path: `${PREFIX}/oauth/acme/start` })]);
    expect(proxy.unrouted).toEqual([]);
  });

  it('/connect: entered with its link, it lists the account and the app, revokes both, relinks and logs out, all under the path', async () => {
    // An app signed in to the hub as alice, through the proxy: the page lists it with a revoke button.
    const app = await obtainTokens(base, hub.token);
    const works = await initialize(`${base}/mcp`, app.tokens.access_token);
    expect(works.status).toBe(200);
    await works.body?.cancel();
    const entry = hub.hub.integrations.accounts.connectUrl(ALICE);
    expect(entry.startsWith(`${base}/connect?link=`)).toBe(true);
    const entered = await browser.get(entry);
    expect(entered.status).toBe(303);
    expect(entered.headers.get('location')).toBe(`${PREFIX}/connect`);
    expect(entered.headers.getSetCookie()).toEqual([expect.stringContaining(`; Path=${PREFIX}/connect;`)]);
    await entered.body?.cancel();

    const page = await open(new URL(entered.headers.get('location')!, entry).href);
    expect(page.status, page.html).toBe(200);
    expect(page.url).toBe(`${base}/connect`);
    // Acme as the first test linked it.
    expect(page.html).toContain('<td class="state active">active</td>');
    const forms = formsOf(page.html);
    expect(forms.map((f) => f.action)).toEqual([`${PREFIX}/connect/revoke`, `${PREFIX}/connect/revoke-client`, `${PREFIX}/connect/logout`]);

    const revokeApp = await browser.post(new URL(forms[1]!.action, page.url).href, forms[1]!.fields);
    expect(revokeApp.status, await revokeApp.clone().text()).toBe(303);
    expect(revokeApp.headers.get('location')).toBe(`${PREFIX}/connect?client=revoked`);
    await revokeApp.body?.cancel();
    const appGone = await open(new URL(revokeApp.headers.get('location')!, page.url).href);
    expect(appGone.html).toContain("Revoked the app's access; its open sessions are closed.");
    const refused = await initialize(`${base}/mcp`, app.tokens.access_token);
    expect(refused.status).toBe(401);
    await refused.body?.cancel();

    const revokedBefore = oidc.revocations();
    const revoke = await browser.post(new URL(forms[0]!.action, page.url).href, forms[0]!.fields);
    expect(revoke.status, await revoke.clone().text()).toBe(303);
    expect(revoke.headers.get('location')).toBe(`${PREFIX}/connect?revoked=acme&confirmed=yes`);
    await revoke.body?.cancel();
    const revoked = await open(new URL(revoke.headers.get('location')!, page.url).href);
    expect(revoked.status, revoked.html).toBe(200);
    expect(revoked.html).toContain('Revoked acme.');
    expect(revoked.html).toContain('<td class="state unlinked">unlinked</td>');
    expect(oidc.revocations()).toBeGreaterThan(revokedBefore);

    // Relink from the page's button: a link on the public URL, walked as in the first test.
    const relink = unescapeHtml(/<a class="button" href="([^"]+)">Link<\/a>/.exec(revoked.html)![1]!);
    expect(relink.startsWith(`${base}/oauth/acme/start?link=`)).toBe(true);
    const done = await open(await browser.authorize(relink, { login: 'alice@acme' }));
    expect(done.html).toContain('Your Acme account is linked');
    const again = await open(`${base}/connect`);
    expect(again.html).toContain('<td class="state active">active</td>');

    const logout = formsOf(again.html).find((f) => f.action.endsWith('/logout'))!;
    const out = await browser.post(new URL(logout.action, again.url).href, logout.fields);
    expect(out.status).toBe(200);
    await out.body?.cancel();
    // The session cookie is cleared where it was set: the browser no longer has it.
    expect(hubCookies().filter((c) => c.name === 'sb_connect')).toEqual([]);
    expect((await open(`${base}/connect`)).status).toBe(401);
    expect(hubCookies().filter((c) => c.path !== PREFIX && !c.path.startsWith(`${PREFIX}/`))).toEqual([]);
    expect(proxy.unrouted).toEqual([]);
  });
});

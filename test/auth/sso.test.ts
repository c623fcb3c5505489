/**
 * `auth.oidc`: the hub's sign-in step sends the user to the company's identity provider (a real
 * oidc-provider here), with PKCE, a once-only state and the `iss` answer checked, maps the subject
 * to a hub user and goes on to consent. The OAuth token the client then gets carries that user:
 * alice, signed in through the company, reaches her own linked account, and bob is asked to link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { runCli, type RunningHub } from '../helpers/hub.js';
import { TOOL, linkIn, linkWithBrowser, startOidcHub } from '../oauth/support.js';
import { REDIRECT, authorizeUrl, formOf, pageAfterRedirects, pkce, register, signIn, tokenRequest } from './support.js';

let oidc: OidcServer;
let hub: RunningHub;
let base: string;
let clientId: string;
const clients: FaceClient[] = [];
beforeAll(async () => {
  oidc = await startOidcServer();
  hub = await startOidcHub(oidc, { auth: { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret } } });
  base = `http://127.0.0.1:${hub.port}`;
  await oidc.allowRedirectUri(`${base}/sign-in/sso/callback`);
  clientId = String((await register(base)).body['client_id']);
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await hub?.stop();
  await oidc?.close();
});

/**
 * Walks the company sign-in as `login` and stops at the hub's consent page; returns the browser,
 * that page's URL and every redirect seen on the way.
 */
async function throughCompany(login: string, p = pkce(), browser = new Browser(), start = authorizeUrl(base, clientId, p).href) {
  const seen: URL[] = [];
  let resumed = false;
  const consent = await browser.authorize(start, {
    login,
    stopAt: (url) => {
      seen.push(url);
      if (url.origin === base && url.pathname.startsWith('/authorize/')) resumed = true;
      return resumed && url.origin === base && /^\/sign-in\/[^/]+$/.test(url.pathname);
    },
  });
  return { browser, consent, seen };
}

async function signedIn(login: string): Promise<FaceClient> {
  const p = pkce();
  const { browser, consent } = await throughCompany(login, p);
  const { callback, pages } = await signIn(consent, '', { browser });
  expect(pages[0]).toContain(`Signed in as <b>${login}</b>`);
  const tokens = await tokenRequest(base, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code: callback.searchParams.get('code')!,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
  });
  expect(tokens.status).toBe(200);
  const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: String(tokens.body['access_token']) });
  clients.push(c);
  return c;
}

describe('single sign-on with the company identity provider', () => {
  it('sends the user there with PKCE and state, and back through the callback to consent', async () => {
    const { seen } = await throughCompany('carol');
    const toCompany = seen.find((u) => u.origin === oidc.issuer && u.pathname === '/auth');
    expect(toCompany).toBeDefined();
    expect(Object.fromEntries(toCompany!.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: oidc.clientId,
      redirect_uri: `${base}/sign-in/sso/callback`,
      scope: 'openid',
      code_challenge_method: 'S256',
      code_challenge: expect.any(String),
      state: expect.any(String),
      nonce: expect.any(String),
    });
    const back = seen.find((u) => u.pathname === '/sign-in/sso/callback');
    expect(back?.searchParams.get('iss')).toBe(oidc.issuer);
    expect(back?.searchParams.get('state')).toBe(toCompany!.searchParams.get('state'));

    // The same answer again (a replay, or the back button): its state is spent.
    const again = await fetch(back!, { redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('This sign-in has expired or is unknown.');
  });

  it('each user signed in through it gets their own tools: alice reaches her linked account, bob is asked to link his', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const unlinked = await alice.callTool(TOOL, {});
    expect(unlinked.isError).toBe(true);
    await linkWithBrowser(new Browser(), linkIn(unlinked), 'alice@acme');
    const mine = await alice.callTool(TOOL, {});
    expect(mine.isError, textOf(mine)).toBe(false);
    expect(mine.structuredContent).toMatchObject({ account: 'alice@acme' });
    const theirs = await bob.callTool(TOOL, {});
    expect(theirs.isError).toBe(true);
    expect(textOf(theirs)).toContain('Link your Acme account');

    const grants = JSON.parse((await runCli(['clients', 'list', '--json', '--user', 'alice', '--data', hub.dataDir], hub.dataDir)).stdout);
    expect(grants).toEqual([expect.objectContaining({ user: 'alice', clientId, signedInWith: { via: 'sso', issuer: oidc.issuer } })]);
  });

  it("a user who cancels at the company's sign-in sends the client access_denied with its state, instead of leaving it waiting", async () => {
    const p = pkce();
    const start = authorizeUrl(base, clientId, p);
    const seen: URL[] = [];
    const back = new URL(
      await new Browser().authorize(start.href, {
        login: 'erin',
        consent: 'deny',
        stopAt: (url) => {
          seen.push(url);
          return url.href.startsWith(REDIRECT);
        },
      }),
    );
    // The company said no at its own consent step; the hub passed that on to the client.
    expect(seen.some((u) => u.pathname === '/sign-in/sso/callback' && u.searchParams.get('error') === 'access_denied')).toBe(true);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(start.searchParams.get('state'));
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('"sign in as someone else" asks the company for a fresh sign-in too, so the next person is not signed in as the last', async () => {
    const { browser, consent } = await throughCompany('carol');
    const { html: asCarol, url } = await pageAfterRedirects(browser, consent);
    expect(asCarol).toContain('<b>carol</b>');
    const form = formOf(asCarol);
    const switched = await browser.post(new URL(form.action, url).href, { csrf: form.csrf, decision: 'switch' });
    expect(switched.status).toBe(303);
    const again = new URL(switched.headers.get('location')!, base);
    await switched.body?.cancel();

    // The company still has carol's session; without prompt=login it would answer for her again.
    const next = await throughCompany('dave', pkce(), browser, again.href);
    expect(next.seen.find((u) => u.origin === oidc.issuer && u.pathname === '/auth')?.searchParams.get('prompt')).toBe('login');
    expect((await pageAfterRedirects(browser, next.consent)).html).toContain('<b>dave</b>');
  });
});

/**
 * What a token may do is what its client asked for and the user allowed: a token granted `openid`
 * alone ("know your hub user name" on the consent page) cannot use the tools; a request that names
 * no scope gets the default, `mcp`, which the consent page promised (RFC 6749 §3.3); and a browser
 * signed in as one user offers "Not you?" so another user of that machine signs in as themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grants } from '../../src/auth/grants.js';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, formOf, initialize, pageAfterRedirects, pkce, REDIRECT, register, signIn, tokenRequest, type Pkce } from './support.js';

let hub: RunningHub;
let base: string;
let alice: string;
let bob: string;
// Not advanced: the authorization server stamps token expiry on the real clock, the hub checks it
// on this one, so a test that moved this clock an hour (a token's lifetime) on saw fresh tokens
// expire whenever one was issued in the same second the clock was made. The file's registrations
// (7, from one address) stay under the limit of 10 an hour without it.
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  alice = (await hub.hub.tokens.create({ user: 'alice' })).token;
  bob = (await hub.hub.tokens.create({ user: 'bob' })).token;
});
afterAll(() => hub?.stop());

/** Redeems the code of a sign-in's callback as the registered client. */
async function redeem(clientId: string, p: Pkce, callback: URL): Promise<{ status: number; body: Record<string, unknown> }> {
  const code = callback.searchParams.get('code');
  expect(code, `no code in ${callback.href}`).toEqual(expect.any(String));
  return tokenRequest(base, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code: code!,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    resource: `${base}/mcp`,
  });
}

/** Registers a client and signs in as `hubToken`'s user with these authorization parameters. */
async function tokensFor(hubToken: string, params: Record<string, string | undefined>, browser = new Browser(), registered?: string) {
  const clientId = registered ?? String((await register(base, 'scopes')).body['client_id']);
  const p = pkce();
  const { callback, pages } = await signIn(authorizeUrl(base, clientId, p, params), hubToken, { browser });
  return { clientId, pages, callback, token: await redeem(clientId, p, callback) };
}

describe('the scope a token carries', () => {
  it('a token granted openid alone is refused at /mcp with 403 insufficient_scope, saying to sign in again asking for mcp', async () => {
    const { pages, token } = await tokensFor(alice, { scope: 'openid' });
    const consent = pages.find((p) => p.includes('Allow access?'))!;
    expect(consent).toContain('<code>openid</code>');
    expect(consent).not.toContain('<code>mcp</code>');
    expect(token.status).toBe(200);
    const access = String(token.body['access_token']);
    const res = await initialize(`${base}/mcp`, access);
    expect(res.status).toBe(403);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body['error']).toBe('insufficient_scope');
    expect(String(body['error_description'])).toContain('sign in again asking for scope=mcp');
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('a token granted mcp (beside openid) uses the tools', async () => {
    const { token } = await tokensFor(alice, { scope: 'openid mcp' });
    const res = await initialize(`${base}/mcp`, String(token.body['access_token']));
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe('a request that names no scope', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = String((await register(base, 'no scope')).body['client_id']);
  });

  it.each([
    ['no scope parameter', undefined],
    ['an empty scope', ''],
    ['offline_access alone', 'offline_access'],
  ])('%s: the consent page and the token both say mcp, and the token uses the tools', async (_what, scope) => {
    const { pages, token, callback } = await tokensFor(alice, { scope }, new Browser(), clientId);
    expect(callback.searchParams.get('error')).toBeNull();
    expect(pages.find((p) => p.includes('Allow access?'))).toContain('<code>mcp</code>');
    expect(token.status).toBe(200);
    expect(String(token.body['scope']).split(' ')).toContain('mcp');
    expect(token.body['refresh_token']).toEqual(expect.any(String));
    const res = await initialize(`${base}/mcp`, String(token.body['access_token']));
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe('"Not you?" on the consent page', () => {
  it('a browser signed in as alice lets bob sign in as himself; his token is his, alice’s stays hers', async () => {
    const browser = new Browser();
    const first = await tokensFor(alice, {}, browser);
    expect(first.token.status).toBe(200);

    // Bob's app, in the browser alice used: consent is offered as alice, with a way out.
    const reg = await register(base, 'bob app');
    const clientId = String(reg.body['client_id']);
    const p = pkce();
    const { html: asAlice, url } = await pageAfterRedirects(browser, authorizeUrl(base, clientId, p, { state: 'bob-state' }));
    expect(asAlice).toContain('<b>alice</b>');
    expect(asAlice).toContain('Not alice?');
    const form = formOf(asAlice);
    expect(form.action).toMatch(/\/consent$/);

    // "Sign in as someone else": the same request again, asking for a sign-in.
    const switched = await browser.post(new URL(form.action, url).href, { csrf: form.csrf, decision: 'switch' });
    expect(switched.status).toBe(303);
    const again = new URL(switched.headers.get('location')!, base);
    await switched.body?.cancel();
    expect(again.pathname).toBe('/authorize');
    expect(again.searchParams.get('prompt')).toBe('login');
    expect(again.searchParams.get('client_id')).toBe(clientId);
    expect(again.searchParams.get('state')).toBe('bob-state');
    expect(again.searchParams.get('code_challenge')).toBe(p.challenge);

    const { callback, pages } = await signIn(again, bob, { browser });
    expect(pages[0]).toContain('Sign in to Switchboard');
    expect(pages.find((page) => page.includes('Allow access?'))).toContain('<b>bob</b>');
    expect(callback.searchParams.get('state')).toBe('bob-state');
    const token = await redeem(clientId, p, callback);
    expect(token.status).toBe(200);

    // Whose tokens they are: the hub's grants list one for each, under their own names.
    const grants = await new Grants({ records: hub.hub.store.asRecords, vault: hub.hub.vault, clock }).list();
    const users = (id: string) => grants.filter((g) => g.clientId === id).map((g) => g.user);
    expect(users(clientId)).toEqual(['bob']);
    expect(users(first.clientId)).toEqual(['alice']);
  });

  it('the switch is a form post with the page’s CSRF token: one without it is refused', async () => {
    const browser = new Browser();
    await tokensFor(alice, {}, browser);
    const reg = await register(base, 'csrf');
    const { html, url } = await pageAfterRedirects(browser, authorizeUrl(base, String(reg.body['client_id']), pkce()));
    const form = formOf(html);
    const forged = await browser.post(new URL(form.action, url).href, { csrf: 'x'.repeat(43), decision: 'switch' });
    expect(forged.status).toBe(403);
    await forged.body?.cancel();
  });
});

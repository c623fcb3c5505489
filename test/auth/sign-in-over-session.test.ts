/**
 * Another user signing in on a browser that holds a session of someone else (a shared machine)
 * goes on to consent and back to the app as themselves: when the hub asks for a sign-in again
 * because the first user's hub token was revoked, when the app sends `prompt=login`, and when two
 * apps' sign-in pages are open in two tabs and each tab is signed in by another user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grants } from '../../src/auth/grants.js';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, pageAfterRedirects, pkce, REDIRECT, register, signIn, tokenRequest } from './support.js';

let hub: RunningHub;
let base: string;
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

/** A registered app and the authorization URL it opens, with its PKCE verifier. */
async function app(name: string, params: Record<string, string> = {}) {
  const clientId = String((await register(base, name)).body['client_id']);
  const p = pkce();
  return { clientId, p, url: authorizeUrl(base, clientId, p, params) };
}

/** Redeems a sign-in's code; resolves the user the hub granted the app to. */
async function grantedTo(a: Awaited<ReturnType<typeof app>>, callback: URL): Promise<string[]> {
  const code = callback.searchParams.get('code');
  expect(code, `no code in ${callback.href}`).toEqual(expect.any(String));
  const token = await tokenRequest(base, {
    grant_type: 'authorization_code',
    client_id: a.clientId,
    code: code!,
    redirect_uri: REDIRECT,
    code_verifier: a.p.verifier,
  });
  expect(token.status).toBe(200);
  const grants = await new Grants({ records: hub.hub.store.asRecords, vault: hub.hub.vault, clock }).list({ clientId: a.clientId });
  return grants.map((g) => g.user);
}

const tokenOf = async (name: string) => {
  const made = await hub.hub.tokens.create({ user: name });
  return { id: made.record.id, token: made.token };
};

describe('signing in as another user on a browser with a session', () => {
  it('after the first user’s hub token was revoked: the next user signs in and consents as themselves', async () => {
    const browser = new Browser();
    const bob = await tokenOf('bob');
    const alice = await tokenOf('alice');
    const first = await app('First');
    expect(await grantedTo(first, (await signIn(first.url, bob.token, { browser })).callback)).toEqual(['bob']);
    await hub.hub.tokens.revoke(bob.id);

    const second = await app('Second');
    const { callback, pages } = await signIn(second.url, alice.token, { browser });
    expect(pages[0]).toContain('Sign in to Switchboard');
    expect(pages.find((page) => page.includes('Allow access?'))).toContain('<b>alice</b>');
    expect(await grantedTo(second, callback)).toEqual(['alice']);
  });

  it('when the app asks prompt=login: the next user signs in and consents as themselves; the same user again keeps going', async () => {
    const browser = new Browser();
    const bob = await tokenOf('bob');
    const alice = await tokenOf('alice');
    const first = await app('First');
    expect(await grantedTo(first, (await signIn(first.url, bob.token, { browser })).callback)).toEqual(['bob']);

    const second = await app('Second', { prompt: 'login' });
    const { callback, pages } = await signIn(second.url, alice.token, { browser });
    expect(pages.find((page) => page.includes('Allow access?'))).toContain('<b>alice</b>');
    expect(await grantedTo(second, callback)).toEqual(['alice']);

    const third = await app('Third', { prompt: 'login' });
    expect(await grantedTo(third, (await signIn(third.url, alice.token, { browser })).callback)).toEqual(['alice']);
  });

  it('two tabs: alice signs in and allows in the first, bob in the second; each app is granted to its own user', async () => {
    const browser = new Browser();
    const alice = await tokenOf('alice');
    const bob = await tokenOf('bob');
    const one = await app('Tab one');
    const two = await app('Tab two');
    // Both sign-in pages open before anyone signs in.
    const tab1 = await pageAfterRedirects(browser, one.url);
    const tab2 = await pageAfterRedirects(browser, two.url);
    expect([tab1.html, tab2.html].map((h) => h.includes('Sign in to Switchboard'))).toEqual([true, true]);

    expect(await grantedTo(one, (await signIn(tab1.url, alice.token, { browser })).callback)).toEqual(['alice']);
    expect(await grantedTo(two, (await signIn(tab2.url, bob.token, { browser })).callback)).toEqual(['bob']);
  });
});

/**
 * A one-time sign-in link sent twice by the sign-in that spends it (a double click on "Sign in",
 * a resent post): the browser shows the answer to the last post, which goes on to consent as the
 * first did, instead of "already used" with the link spent. The link stays one-time: any other
 * sign-in, in this browser or another, is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grants } from '../../src/auth/grants.js';
import { Invites } from '../../src/auth/invites.js';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, followHub, formOf, pkce, register } from './support.js';

let hub: RunningHub;
let base: string;
let clientId: string;
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  clientId = String((await register(base)).body['client_id']);
});
afterAll(() => hub?.stop());

const invite = async (user: string) =>
  `${base}/sign-in/invite#${(await new Invites(hub.hub.store.asRecords, hub.hub.vault, clock).create({ tenant: 'default', user })).code}`;

/** A sign-in page opened in `browser`: a function posting what is pasted into its form. */
async function signInPage(browser: Browser, params: Record<string, string> = {}): Promise<(pasted: string) => Promise<Response>> {
  const page = await followHub(browser, base, await browser.get(authorizeUrl(base, clientId, pkce(), params).href));
  const form = formOf(await page.text());
  return (pasted) => browser.post(new URL(form.action, base).href, { csrf: form.csrf, token: pasted });
}

const said = async (res: Response) => ({ status: res.status, text: (await res.text()).includes('That sign-in link was already used.') });

describe('a sign-in link posted twice', () => {
  it('by the sign-in that spent it: the last answer goes on to consent and to the app; anyone else is refused', async () => {
    const link = await invite('dora');
    const browser = new Browser();
    const p = pkce();
    const page = await followHub(browser, base, await browser.get(authorizeUrl(base, clientId, p).href));
    const form = formOf(await page.text());
    const post = () => browser.post(new URL(form.action, base).href, { csrf: form.csrf, token: link });
    const first = await post();
    const second = await post();
    expect([first.status, second.status]).toEqual([303, 303]);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    await first.body?.cancel();

    const consentPage = await followHub(browser, base, second);
    const html = await consentPage.text();
    expect(html).toContain('<b>dora</b>');
    const consent = formOf(html);
    const callback = await followHub(browser, base, await browser.post(new URL(consent.action, base).href, { csrf: consent.csrf, decision: 'allow' }));
    const code = new URL(callback.headers.get('location')!).searchParams.get('code');
    const token = await exchangeCode(base, clientId, code!, p.verifier);
    expect(token.status).toBe(200);
    const grants = await new Grants({ records: hub.hub.store.asRecords, vault: hub.hub.vault, clock }).list({ user: 'dora' });
    expect(grants.map((g) => [g.user, g.signedInWith])).toEqual([['dora', { via: 'invite' }]]);

    // Spent: another sign-in of this browser (asked for by the app: the browser is signed in), or of another, is refused.
    expect(await said(await (await signInPage(browser, { prompt: 'login' }))(link))).toEqual({ status: 401, text: true });
    expect(await said(await (await signInPage(new Browser()))(link))).toEqual({ status: 401, text: true });
  });

  it('a link spent by one sign-in is refused to another opened before it, however often it is sent', async () => {
    const link = await invite('eve');
    const mallory = await signInPage(new Browser());
    const eve = await signInPage(new Browser());
    expect((await eve(link)).status).toBe(303);
    expect(await said(await mallory(link))).toEqual({ status: 401, text: true });
    expect(await said(await mallory(link))).toEqual({ status: 401, text: true });
    expect((await eve(link)).status).toBe(303);
  });
});

/**
 * Allow pressed twice on the consent page (a double click, a resent form) is one consent: the
 * client gets one code, one token, and the hub keeps one grant for it, not a second one no token
 * was ever issued under that `clients list` and /connect would show as the app authorized twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grants } from '../../src/auth/grants.js';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, followHub, formOf, pkce, register } from './support.js';

let hub: RunningHub;
let base: string;
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

describe('consent posted twice', () => {
  it.each([
    ['at once', true],
    ['one after the other', false],
  ])('%s: one code, one token, one grant', async (_name, together) => {
    const clientId = String((await register(base, 'Double click')).body['client_id']);
    const p = pkce();
    const browser = new Browser();
    const page = await followHub(browser, base, await browser.get(authorizeUrl(base, clientId, p).href));
    const login = formOf(await page.text());
    const consentPage = await followHub(browser, base, await browser.post(new URL(login.action, base).href, { csrf: login.csrf, token: hub.token }));
    const consent = formOf(await consentPage.text());
    const allow = () => browser.post(new URL(consent.action, base).href, { csrf: consent.csrf, decision: 'allow' });
    const posts = together ? await Promise.all([allow(), allow()]) : [await allow(), await allow()];
    expect(posts.map((r) => r.status)).toEqual([303, 303]);
    await posts[0]!.body?.cancel();
    // The browser shows the answer to the last post: it goes on to the client.
    const callback = await followHub(browser, base, posts[1]!);
    const code = new URL(callback.headers.get('location')!).searchParams.get('code');
    const token = await exchangeCode(base, clientId, code!, p.verifier);
    expect(token.status).toBe(200);

    const grants = await new Grants({ records: hub.hub.store.asRecords, vault: hub.hub.vault, clock }).list({ clientId });
    expect(grants.map((g) => [g.user, g.scopes])).toEqual([['alice', ['mcp']]]);
  });
});

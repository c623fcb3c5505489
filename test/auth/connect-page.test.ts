/**
 * `/connect` lists the OAuth clients the signed-in user authorized, each with a revoke button: a
 * CSRF-protected form post that ends the grant, whose open session closes at once. Another user's
 * grant is neither shown nor revocable from this page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/identity.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { rawSessionWithStream } from '../helpers/raw-mcp.js';
import { Browser } from '../integrations/browser.js';
import { obtainTokens } from './support.js';

const ALICE: Identity = { tenant: 'default', user: 'alice', scopes: [] };
let hub: RunningHub;
let origin: string;
beforeAll(async () => {
  hub = await startHub({ integrations: { sandbox: {} } });
  origin = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

async function enter(who: Identity): Promise<{ browser: Browser; html: string; csrf: string }> {
  const browser = new Browser();
  expect((await browser.get(hub.hub.integrations.accounts.connectUrl(who))).status).toBe(303);
  const html = await (await browser.get(`${origin}/connect`)).text();
  return { browser, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]! };
}

const grantIdsIn = (html: string) => [...html.matchAll(/name="grant" value="([^"]+)"/g)].map((m) => m[1]!);

describe('/connect: apps signed in as you', () => {
  it('lists the user’s own authorized clients; Revoke ends the grant and closes its session at once; forged or foreign posts are refused', async () => {
    const alice = await hub.hub.tokens.create({ user: 'alice' });
    const bob = await hub.hub.tokens.create({ user: 'bob' });
    const mine = await obtainTokens(origin, alice.token);
    const theirs = await obtainTokens(origin, bob.token);
    const session = await rawSessionWithStream(hub.url, mine.tokens.access_token);
    const bobs = await rawSessionWithStream(hub.url, theirs.tokens.access_token);

    const page = await enter(ALICE);
    expect(page.html).toContain('<h2>Apps signed in as you</h2>');
    expect(page.html).toContain(`<small>${mine.clientId}</small>`);
    expect(page.html).not.toContain(theirs.clientId);
    const [grant] = grantIdsIn(page.html);
    expect(grantIdsIn(page.html)).toHaveLength(1);

    // Without the page's form token, or with another user's grant id: refused, nothing ended.
    expect((await page.browser.post(`${origin}/connect/revoke-client`, { grant: grant!, csrf: 'forged' })).status).toBe(403);
    const bobPage = await enter({ ...ALICE, user: 'bob' });
    const [bobsGrant] = grantIdsIn(bobPage.html);
    const foreign = await page.browser.post(`${origin}/connect/revoke-client`, { grant: bobsGrant!, csrf: page.csrf });
    expect(foreign.status).toBe(404);

    const done = await page.browser.post(`${origin}/connect/revoke-client`, { grant: grant!, csrf: page.csrf });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/connect?client=revoked');
    expect(await session.ended).toBe('ended');
    const after = await (await page.browser.get(`${origin}/connect?client=revoked`)).text();
    expect(after).toContain("Revoked the app's access; its open sessions are closed.");
    expect(grantIdsIn(after)).toEqual([]);

    // Bob's grant and session live on.
    expect(grantIdsIn(await (await bobPage.browser.get(`${origin}/connect`)).text())).toEqual([bobsGrant]);
    const still = await Promise.race([bobs.ended, new Promise((r) => setImmediate(() => r('open')))]);
    expect(still).toBe('open');
  });
});

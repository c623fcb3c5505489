/**
 * The /connect session (issue 7 items 8 and 10): entered with a link that works once, a session of
 * its own kind that expires after 30 minutes (injected clock) and logs out, a cookie value that is
 * refused as a link, and a malformed Cookie header answered like any other request. Two users side
 * by side, over real HTTP with a cookie jar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { SESSION_TTL_MS } from '../../src/http/connect.js';
import type { Identity } from '../../src/identity/identity.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, locationOf } from '../integrations/browser.js';

const ALICE: Identity = { tenant: 'default', user: 'alice', scopes: [] };
const BOB: Identity = { tenant: 'default', user: 'bob', scopes: [] };

describe('/connect sessions', () => {
  const clock = manualClock(Date.now());
  let hub: RunningHub;
  let origin: string;
  const entryFor = (who: Identity) => hub.hub.integrations.accounts.connectUrl(who);

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} } }, { clock });
    origin = new URL(hub.url).origin;
  });
  afterAll(() => hub?.stop());

  /** Enters /connect with a fresh link; returns the browser and the session cookie's value. */
  async function enter(who: Identity): Promise<{ browser: Browser; cookie: string; csrf: string }> {
    const browser = new Browser();
    const entry = entryFor(who);
    const entered = await browser.get(entry);
    expect(entered.status).toBe(303);
    expect(locationOf(entered, entry)).toBe(`${origin}/connect`);
    const set = entered.headers.getSetCookie();
    expect(set).toHaveLength(1);
    expect(set[0]).toMatch(/^sb_connect=[^;]+; Max-Age=1800; Path=\/connect; HttpOnly; SameSite=Strict$/);
    const page = await browser.get(`${origin}/connect`);
    const html = await page.text();
    expect(page.status, html).toBe(200);
    return { browser, cookie: set[0]!.split(';')[0]!.slice('sb_connect='.length), csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]! };
  }

  const withCookie = (header: string) => fetch(`${origin}/connect`, { headers: { cookie: header }, redirect: 'manual' });

  it('two users side by side each see their own page, and one form token does not work in the other session', async () => {
    const [a, b] = [await enter(ALICE), await enter(BOB)];
    expect(await (await a.browser.get(`${origin}/connect`)).text()).toContain('<h1>Accounts of alice</h1>');
    expect(await (await b.browser.get(`${origin}/connect`)).text()).toContain('<h1>Accounts of bob</h1>');
    expect(a.csrf).not.toBe(b.csrf);
    const crossed = await b.browser.post(`${origin}/connect/logout`, { csrf: a.csrf });
    expect(crossed.status).toBe(403);
    expect((await a.browser.get(`${origin}/connect`)).status).toBe(200);
  });

  it('an entry link works once', async () => {
    const entry = entryFor(ALICE);
    expect((await new Browser().get(entry)).status).toBe(303);
    for (const b of [new Browser(), new Browser()]) {
      const again = await b.get(entry);
      expect(again.status).toBe(400);
      expect(again.headers.getSetCookie()).toEqual([]);
      expect(await again.text()).toContain('This link was already used; a link works once.');
    }
  });

  it('a HEAD of an entry link (a link-preview fetcher) spends nothing and sets no cookie; the user then enters with it', async () => {
    const entry = entryFor(ALICE);
    for (let i = 0; i < 2; i++) {
      const head = await fetch(entry, { method: 'HEAD', redirect: 'manual' });
      expect([head.status, head.headers.getSetCookie(), head.headers.get('cache-control')]).toEqual([200, [], 'no-store']);
    }
    const browser = new Browser();
    const entered = await browser.get(entry);
    expect(entered.status).toBe(303);
    expect(entered.headers.getSetCookie()).toEqual([expect.stringMatching(/^sb_connect=/)]);
    expect(await (await browser.get(`${origin}/connect`)).text()).toContain('<h1>Accounts of alice</h1>');
    // Without a link, HEAD answers as the page does and opens nothing either.
    const bare = await fetch(`${origin}/connect`, { method: 'HEAD' });
    expect([bare.status, bare.headers.getSetCookie()]).toEqual([401, []]);
  });

  it('a chat app unfurling an entry link (Slack, Teams, Discord) gets a page that spends nothing; the user then enters with it', async () => {
    const entry = entryFor(ALICE);
    for (const agent of [
      'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
      'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
      'SkypeUriPreview Preview/0.5',
    ]) {
      const unfurl = await fetch(entry, { headers: { 'user-agent': agent }, redirect: 'manual' });
      expect([unfurl.status, unfurl.headers.getSetCookie(), unfurl.headers.get('x-robots-tag')]).toEqual([200, [], 'noindex, nofollow']);
      expect(await unfurl.text()).toContain('Open it in your browser to continue.');
    }
    const entered = await new Browser().get(entry);
    expect(entered.status).toBe(303);
    expect(entered.headers.getSetCookie()).toEqual([expect.stringMatching(/^sb_connect=/)]);
  });

  it('the session cookie offered as ?link= is refused and renews nothing', async () => {
    const { cookie } = await enter(ALICE);
    const res = await new Browser().get(`${origin}/connect?link=${encodeURIComponent(cookie)}`);
    expect(res.status).toBe(400);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.text()).toContain('this link is not valid (it was altered or is from another hub)');
  });

  it(`expires ${SESSION_TTL_MS / 60_000} minutes after entry, however it is used meanwhile`, async () => {
    const { browser } = await enter(BOB);
    clock.advance(SESSION_TTL_MS - 1_000);
    const late = await browser.get(`${origin}/connect`);
    expect(late.status).toBe(200);
    // Using the page does not extend it.
    expect(late.headers.getSetCookie()).toEqual([]);
    expect(await late.text()).toContain('This page stays open for 1 s more, then needs a new link.');
    clock.advance(1_000);
    const ended = await browser.get(`${origin}/connect`);
    expect(ended.status).toBe(401);
    expect(await ended.text()).toContain('Your session has ended (it lasts 30 minutes, or you logged out).');
  });

  it('log-out ends the session on the server, even for a copy of its cookie', async () => {
    const { browser, cookie, csrf } = await enter(ALICE);
    const out = await browser.post(`${origin}/connect/logout`, { csrf });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie()).toEqual(['sb_connect=; Max-Age=0; Path=/connect; HttpOnly; SameSite=Strict']);
    expect(await out.text()).toContain('<h1>Logged out</h1>');
    expect(browser.cookiesFor(`${origin}/connect`)).toEqual([]);
    const copy = await withCookie(`sb_connect=${cookie}`);
    expect(copy.status).toBe(401);
    expect(await copy.text()).toContain('Your session has ended');
    // Its form token is dead too.
    expect((await withCookie(`sb_connect=${cookie}`)).status).toBe(401);
    const revoke = await fetch(`${origin}/connect/revoke`, {
      method: 'POST',
      headers: { cookie: `sb_connect=${cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ integration: 'sandbox', csrf }),
    });
    expect(revoke.status).toBe(403);
  });

  it('a malformed Cookie header is answered normally, not with a 500', async () => {
    const { cookie } = await enter(BOB);
    const withSession = await withCookie(`junk=%E0%A4%A; sb_connect=${cookie}; =x; %zz`);
    expect(withSession.status).toBe(200);
    expect(await withSession.text()).toContain('<h1>Accounts of bob</h1>');
    const alone = await withCookie('sb_connect=%E0%A4%A');
    expect(alone.status).toBe(401);
    expect(await alone.text()).toContain('<h1>Manage your accounts</h1>');
    const nothing = await withCookie(';;;');
    expect(nothing.status).toBe(401);
  });
});

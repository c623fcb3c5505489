/**
 * A link is bound to the hub user it was made for (issue 7 item 8): the hub names that user and
 * the integration before sending anyone to the provider, the confirmation is a POST with a CSRF
 * token, the link works once and only in the browser that first opened it, and the success page
 * names both. Real HTTP on loopback against a hub that hosts the sandbox provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import type { Identity } from '../../src/identity/identity.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, confirmLink, followLink, locationOf } from '../integrations/browser.js';

const ALICE: Identity = { tenant: 'default', user: 'alice', scopes: [] };
const BOB: Identity = { tenant: 'default', user: 'bob', scopes: [] };

describe('links bound to their hub user', () => {
  const clock = manualClock(Date.now());
  let hub: RunningHub;
  let origin: string;
  const linkFor = (who: Identity) => hub.hub.integrations.accounts.linkUrl(who, 'sandbox');
  const connection = (who: Identity) => hub.hub.integrations.accounts.connections.find(who.tenant, who.user, 'sandbox');

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} } }, { clock });
    origin = new URL(hub.url).origin;
  });
  afterAll(() => hub?.stop());

  /** The page and hidden fields a browser gets when it opens a link. */
  async function open(browser: Browser, link: string) {
    const res = await browser.get(link);
    const html = await res.text();
    const field = (name: string) => new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)?.[1];
    return { status: res.status, html, csrf: field('csrf'), link: field('link')?.replace(/&amp;/g, '&') };
  }

  it('two users side by side: each confirm page and success page names its own hub user and the integration', async () => {
    const [a, b] = [new Browser(), new Browser()];
    const [pa, pb] = [await open(a, linkFor(ALICE)), await open(b, linkFor(BOB))];
    expect(pa.status).toBe(200);
    expect(pa.html).toContain('<title>Link Sandbox Tickets to alice? · Switchboard</title>');
    expect(pa.html).toContain('connects a <strong>Sandbox Tickets</strong> account to the Switchboard user <strong>alice</strong>.');
    expect(pb.html).toContain('<title>Link Sandbox Tickets to bob? · Switchboard</title>');
    // The confirm page has not started anything: no flow and no connection yet.
    expect(hub.hub.db.prepare("SELECT count(*) FROM oauth_flows WHERE user_id IN ('alice', 'bob')").pluck().get()).toBe(0);

    const doneA = await followLink(new Browser(), linkFor(ALICE), 'alice-at-sandbox');
    const doneB = await followLink(new Browser(), linkFor(BOB), 'bob-at-sandbox');
    expect(doneA.status).toBe(200);
    expect(doneA.html).toContain('Your Sandbox Tickets account is linked to the Switchboard user <strong>alice</strong>.');
    expect(doneB.html).toContain('Your Sandbox Tickets account is linked to the Switchboard user <strong>bob</strong>.');
    expect([(await connection(ALICE))?.state, (await connection(BOB))?.state]).toEqual(['active', 'active']);
    expect((await connection(ALICE))?.id).not.toBe((await connection(BOB))?.id);
  });

  it('a reused link is refused: opened again, or its confirmation posted again', async () => {
    const carol: Identity = { tenant: 'default', user: 'carol', scopes: [] };
    const link = linkFor(carol);
    const browser = new Browser();
    const page = await open(browser, link);
    const form = { link: page.link!, csrf: page.csrf! };
    const first = await browser.post(`${origin}/oauth/sandbox/start`, form);
    expect(first.status).toBe(303);
    expect(locationOf(first, origin)).toMatch(new RegExp(`^${origin}/sandbox/oauth/authorize\\?`));

    const again = await browser.post(`${origin}/oauth/sandbox/start`, form);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('this link was already used; a link works once.');
    for (const b of [browser, new Browser()]) {
      const reopened = await open(b, link);
      expect(reopened.status).toBe(400);
      expect(reopened.html).toContain('this link was already used; a link works once.');
      expect(reopened.csrf).toBeUndefined();
    }
    // One flow started for carol, none linked.
    expect(hub.hub.db.prepare("SELECT count(*) FROM oauth_flows WHERE user_id = 'carol'").pluck().get()).toBe(1);
    expect(await connection(carol)).toBeUndefined();
  });

  it('a link opened by a second browser is refused, and cannot be confirmed from there; the first browser still can', async () => {
    const dave: Identity = { tenant: 'default', user: 'dave', scopes: [] };
    const link = linkFor(dave);
    // A link-preview fetcher's HEAD claims nothing.
    expect((await fetch(link, { method: 'HEAD' })).status).toBe(200);
    // Nor does the GET of a chat app unfurling the pasted link.
    const unfurl = await fetch(link, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' } });
    expect([unfurl.status, unfurl.headers.getSetCookie()]).toEqual([200, []]);
    const owner = new Browser();
    const mine = await open(owner, link);
    expect(mine.status).toBe(200);

    const stranger = new Browser();
    const theirs = await open(stranger, link);
    expect(theirs.status).toBe(400);
    expect(theirs.html).toContain('this link was opened in another browser first; a link works only in the browser that opened it.');
    // The form fields copied from the owner's page are worthless without the owner's cookie.
    const forged = await stranger.post(`${origin}/oauth/sandbox/start`, { link: mine.link!, csrf: mine.csrf! });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<code>forbidden</code>');

    const done = await followLink(owner, link, 'dave-at-sandbox');
    expect(done.status).toBe(200);
    expect((await connection(dave))?.state).toBe('active');
  });

  it('the confirmation needs its CSRF token and a same-origin post; failed attempts do not spend the link', async () => {
    const erin: Identity = { tenant: 'default', user: 'erin', scopes: [] };
    const link = linkFor(erin);
    const browser = new Browser();
    const page = await open(browser, link);
    const missing = await browser.post(`${origin}/oauth/sandbox/start`, { link: page.link! });
    expect(missing.status).toBe(403);
    const wrong = await browser.post(`${origin}/oauth/sandbox/start`, { link: page.link!, csrf: `${page.csrf!.slice(0, -2)}xx` });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain('this form did not come from the confirmation page in this browser');
    // A page on another site posting with this browser's cookies is stopped by the Origin check.
    const cookie = browser.cookiesFor(`${origin}/oauth/sandbox/start`);
    expect(cookie).toEqual([expect.stringMatching(/^sb_link_[A-Za-z0-9_-]{16}$/)]);
    const crossSite = await fetch(`${origin}/oauth/sandbox/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ link: page.link!, csrf: page.csrf! }),
      redirect: 'manual',
    });
    expect(crossSite.status).toBe(403);
    const done = await followLink(browser, link, 'erin-at-sandbox');
    expect(done.status).toBe(200);
  });

  it('escapes a hostile hub user name on the confirm page and on the success page', async () => {
    const mallory: Identity = { tenant: 'default', user: '<script>alert("x")</script>', scopes: [] };
    const page = await open(new Browser(), linkFor(mallory));
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('<script>');
    expect(page.html).toContain('<title>Link Sandbox Tickets to &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;? · Switchboard</title>');
    expect(page.html).toContain('the Switchboard user <strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</strong>.');
    const done = await followLink(new Browser(), linkFor(mallory), 'mallory-at-sandbox');
    expect(done.html).not.toContain('<script>');
    expect(done.html).toContain('linked to the Switchboard user <strong>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</strong>.');
  });

  it('names the tenant when it is not the default one', async () => {
    const page = await open(new Browser(), linkFor({ tenant: 'acme', user: 'frank', scopes: [] }));
    expect(page.html).toContain('the Switchboard user <strong>frank</strong> (tenant <strong>acme</strong>).');
  });

  it('an expired link is refused at the confirm page and at the confirmation', async () => {
    const gina: Identity = { tenant: 'default', user: 'gina', scopes: [] };
    const browser = new Browser();
    const page = await open(browser, linkFor(gina));
    clock.advance(15 * 60_000 + 1);
    const late = await browser.post(`${origin}/oauth/sandbox/start`, { link: page.link!, csrf: page.csrf! });
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('this link has expired; ask for a new one');
    const start = await confirmLink(browser, linkFor(gina));
    expect(start.status).toBe(303);
  });
});

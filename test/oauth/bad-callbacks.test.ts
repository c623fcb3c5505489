/**
 * Every way a link or an authorization response can be wrong ends on a clear error page (400,
 * HTML that names the problem) and leaves every stored connection exactly as it was.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import type { RunningHub } from '../helpers/hub.js';
import { linkWithBrowser, startOidcHub } from './support.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const ALICE = { tenant: 'default', user: 'alice', scopes: [] };
const BOB = { tenant: 'default', user: 'bob', scopes: [] };

describe('bad links and authorization responses', () => {
  let oidc: OidcServer;
  let hub: RunningHub;
  const clock = manualClock(Date.now());
  let snapshot: unknown[];

  const connections = () => hub.hub.db.prepare('SELECT * FROM connections ORDER BY id').all();
  const linkFor = (who: typeof ALICE) => hub.hub.integrations.accounts.linkUrl(who, 'acme');

  /** The page a failed callback shows, checked for what every failure page must be. */
  async function errorPage(res: Response, problem: RegExp): Promise<void> {
    const html = await res.text();
    expect(res.status, html).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('Linking failed');
    expect(html).toMatch(problem);
    expect(connections()).toEqual(snapshot);
  }

  beforeAll(async () => {
    oidc = await startOidcServer();
    hub = await startOidcHub(oidc, {}, { clock });
    // A linked account, so "no change" is checked against a row that exists.
    await linkWithBrowser(new Browser(), linkFor(ALICE), 'alice@acme');
  });

  afterAll(async () => {
    await hub?.stop();
    await oidc?.close();
  });

  beforeEach(() => {
    snapshot = connections();
    expect(snapshot).toHaveLength(1);
  });

  it('denied consent', async () => {
    const browser = new Browser();
    const callback = await browser.authorize(linkFor(ALICE), { login: 'alice@acme', consent: 'deny' });
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    await errorPage(await browser.get(callback), /Acme was not linked: access was denied at the provider/);
  });

  it('an authorization response that comes back after 10 minutes', async () => {
    const browser = new Browser();
    const callback = await browser.authorize(linkFor(ALICE), { login: 'alice@acme' });
    clock.advance(10 * 60_000 + 1_000);
    await errorPage(await browser.get(callback), /took too long and expired/);
    expect(oidc.tokenRequests('authorization_code')).toBe(1);
  });

  it('a replayed authorization response', async () => {
    const browser = new Browser();
    const callback = await browser.authorize(linkFor(ALICE), { login: 'alice@acme' });
    const first = await browser.get(callback);
    expect(first.status, await first.text()).toBe(200);
    snapshot = connections();
    const codes = oidc.tokenRequests('authorization_code');
    await errorPage(await browser.get(callback), /already used/);
    // Refused before the code is sent anywhere: the provider sees no second redemption.
    expect(oidc.tokenRequests('authorization_code')).toBe(codes);
  });

  it('an authorization response from an unexpected issuer (RFC 9207 mix-up)', async () => {
    const browser = new Browser();
    const callback = new URL(await browser.authorize(linkFor(ALICE), { login: 'alice@acme' }));
    expect(callback.searchParams.get('iss')).toBe(oidc.issuer);
    callback.searchParams.set('iss', 'https://attacker.example');
    const codes = oidc.tokenRequests('authorization_code');
    // The page names the issuer expected and the setting that says so: a server that is the one
    // configured, with another issuer, is fixed there.
    const expected = `unexpected issuer (https://attacker.example); the hub expects ${oidc.issuer}, set in integrations.acme.oauth.issuer. If https://attacker.example is the issuer of the authorization server configured for Acme, set integrations.acme.oauth.issuer to it`;
    await errorPage(await browser.get(callback.href), new RegExp(escapeRegExp(expected)));
    expect(oidc.tokenRequests('authorization_code')).toBe(codes);
  });

  it("another user's authorization response opened in this browser (login CSRF)", async () => {
    // Bob starts linking his account and lures Alice into finishing it in her browser.
    const bob = new Browser();
    const callback = await bob.authorize(linkFor(BOB), { login: 'bob@acme' });
    const alice = new Browser();
    await linkWithBrowser(alice, linkFor(ALICE), 'alice@acme');
    snapshot = connections();
    const codes = oidc.tokenRequests('authorization_code');
    await errorPage(await alice.get(callback), /started in another browser or for another user/);
    expect(oidc.tokenRequests('authorization_code')).toBe(codes);
    expect(await hub.hub.integrations.accounts.connections.find('default', 'bob', 'acme')).toBeUndefined();
  });

  it('a tampered link', async () => {
    const link = new URL(linkFor(ALICE));
    const [body, mac] = link.searchParams.get('link')!.split('.');
    const flipped = mac!.slice(0, 10) + (mac![10] === 'A' ? 'B' : 'A') + mac!.slice(11);
    link.searchParams.set('link', `${body}.${flipped}`);
    const browser = new Browser();
    const res = await browser.get(link.href);
    expect(res.headers.get('location')).toBeNull();
    expect(browser.cookies).toEqual([]);
    await errorPage(res, /this link is not valid \(it was altered or is from another hub\)/);
  });
});

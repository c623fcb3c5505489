/**
 * With single sign-on, each visit of a pending sign-in's page stores a state for the company's
 * identity provider (10 minutes). One pending sign-in, reloaded in a loop by a script, stored one
 * per request without bound; the sign-in page now counts against the caller's limit of new
 * authorization requests (60 a minute), past which it answers 429 with Retry-After and stores
 * nothing. A person's sign-in, which visits it once or twice, is not affected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import type { RunningHub } from '../helpers/hub.js';
import { startOidcHub } from '../oauth/support.js';
import { asRecordCount, authorizeUrl, pkce, register } from './support.js';

const clock = manualClock(Date.now());
let oidc: OidcServer;
let hub: RunningHub;
let base: string;
beforeAll(async () => {
  oidc = await startOidcServer();
  hub = await startOidcHub(oidc, { auth: { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret } } }, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  await oidc.allowRedirectUri(`${base}/sign-in/sso/callback`);
});
afterAll(async () => {
  await hub?.stop();
  await oidc?.close();
});

function ssoStates(): number {
  return asRecordCount(hub.dataDir, 'SsoState');
}

describe('the sign-in page with single sign-on', () => {
  it('sends a caller to the identity provider up to its limit, then answers 429 storing nothing', async () => {
    const clientId = String((await register(base)).body['client_id']);
    // A remote caller, as a reverse proxy on this machine names it (the hub's own machine gets more).
    const from = { 'x-forwarded-for': '203.0.113.60' };
    const start = await fetch(authorizeUrl(base, clientId, pkce()), { redirect: 'manual', headers: from });
    const signInPage = new URL(start.headers.get('location')!, base).href;
    // The interaction cookies, as the caller's browser keeps them.
    const cookie = start.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    await start.body?.cancel();
    const open = () => fetch(signInPage, { redirect: 'manual', headers: { ...from, cookie } });
    // The authorization request took one of the 60; the page may be opened 59 times more.
    for (let i = 0; i < 59; i++) {
      const res = await open();
      await res.body?.cancel();
      expect(new URL(res.headers.get('location') ?? '', base).origin).toBe(new URL(oidc.issuer).origin);
    }
    const stored = ssoStates();
    expect(stored).toBe(59);
    const refused = await open();
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '60']);
    await refused.body?.cancel();
    for (let i = 0; i < 10; i++) await (await open()).body?.cancel();
    expect(ssoStates()).toBe(stored);
  });

  it('counts a HEAD of the page as its GET: it stores a state too', async () => {
    const clientId = String((await register(base)).body['client_id']);
    const from = { 'x-forwarded-for': '203.0.113.61' };
    const start = await fetch(authorizeUrl(base, clientId, pkce()), { redirect: 'manual', headers: from });
    const signInPage = new URL(start.headers.get('location')!, base).href;
    const cookie = start.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    await start.body?.cancel();
    const head = () => fetch(signInPage, { method: 'HEAD', redirect: 'manual', headers: { ...from, cookie } });
    for (let i = 0; i < 59; i++) await (await head()).body?.cancel();
    const stored = ssoStates();
    const refused = await head();
    expect(refused.status).toBe(429);
    for (let i = 0; i < 10; i++) await (await head()).body?.cancel();
    expect(ssoStates()).toBe(stored);
  });
});

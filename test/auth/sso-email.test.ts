/**
 * `auth.oidc.userFrom: "email"` against a real oidc-provider that follows OpenID Connect Core
 * §5.4 for the code flow, as its default does: the email scope's claims come from UserInfo, not
 * the ID token. The hub asks UserInfo, and names the user by the address lower-cased, so an
 * address typed in capitals at the company is the same hub user as ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import type { RunningHub } from '../helpers/hub.js';
import { startOidcHub } from '../oauth/support.js';
import { authorizeUrl, pageAfterRedirects, pkce, register } from './support.js';

let oidc: OidcServer;
let hub: RunningHub;
let base: string;
let clientId: string;
beforeAll(async () => {
  oidc = await startOidcServer({ emailOf: (login) => `${login.toUpperCase()}@Acme.Example` });
  hub = await startOidcHub(oidc, {
    auth: { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret, userFrom: 'email' } },
  });
  base = `http://127.0.0.1:${hub.port}`;
  await oidc.allowRedirectUri(`${base}/sign-in/sso/callback`);
  clientId = String((await register(base)).body['client_id']);
});
afterAll(async () => {
  await hub?.stop();
  await oidc?.close();
});

/** Signs in at the company as `login` and returns the hub page the browser lands on. */
async function landing(login: string): Promise<string> {
  const browser = new Browser();
  let back = false;
  const stop = await browser.authorize(authorizeUrl(base, clientId, pkce()).href, {
    login,
    stopAt: (url) => {
      if (url.origin === base && url.pathname === '/sign-in/sso/callback') back = true;
      return back && url.origin === base && url.pathname !== '/sign-in/sso/callback';
    },
  });
  return (await pageAfterRedirects(browser, stop)).html;
}

describe('single sign-on naming users by email', () => {
  it('takes the verified email from UserInfo when the ID token has none, lower-cased', async () => {
    expect(await landing('erin')).toContain('Signed in as <b>erin@acme.example</b>');
  });

  it('two people get two users', async () => {
    const [a, b] = await Promise.all([landing('frank'), landing('grace')]);
    expect(a).toContain('<b>frank@acme.example</b>');
    expect(b).toContain('<b>grace@acme.example</b>');
  });
});

/**
 * A desktop client sent back to its own URI scheme (RFC 8252 §7.1: Cursor registers
 * `cursor://anysphere.cursor-mcp/oauth/callback` beside a web and a loopback callback, naming no
 * `application_type`) is a native app: registered as one, it signs in and gets its code at that
 * URI. The library took it for a web client, whose redirects must be http(s), and refused the
 * registration before the user saw the sign-in page. Schemes that run script or read files stay
 * refused, as for any native client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, followHub, formOf, pkce } from './support.js';

const APP = 'cursor://anysphere.cursor-mcp/oauth/callback';
let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

async function registerWith(redirectUris: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Cursor',
      redirect_uris: redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a client sent back to its own URI scheme', () => {
  it('registers as a native app, signs in and gets its code at that URI', async () => {
    const reg = await registerWith([APP, 'https://www.cursor.com/agents/mcp/oauth/callback', 'http://localhost:8787/callback']);
    expect(reg.status).toBe(201);
    expect(reg.body['application_type']).toBe('native');
    const clientId = String(reg.body['client_id']);

    const p = pkce();
    const browser = new Browser();
    const signInPage = await followHub(browser, base, await browser.get(authorizeUrl(base, clientId, p, { redirect_uri: APP }).href));
    // The pages let their forms lead the browser back to the app's scheme (CSP form-action).
    expect(signInPage.headers.get('content-security-policy')).toContain("form-action 'self' cursor:");
    const signInHtml = await signInPage.text();
    // Where the code goes is named with its scheme: an app's scheme is no web host.
    expect(signInHtml).toContain('<code>cursor://anysphere.cursor-mcp</code>');
    const login = formOf(signInHtml);
    const consentPage = await followHub(browser, base, await browser.post(new URL(login.action, base).href, { csrf: login.csrf, token: hub.token }));
    const consent = formOf(await consentPage.text());
    let res = await browser.post(new URL(consent.action, base).href, { csrf: consent.csrf, decision: 'allow' });
    for (let i = 0; i < 4 && !res.headers.get('location')?.startsWith(APP); i++) {
      const next = new URL(res.headers.get('location')!, base).href;
      await res.body?.cancel();
      res = await browser.get(next);
    }
    const callback = new URL(res.headers.get('location')!);
    expect(callback.href.startsWith(`${APP}?`)).toBe(true);
    const tokens = await exchangeCode(base, clientId, callback.searchParams.get('code')!, p.verifier, { redirect_uri: APP });
    expect(tokens.status).toBe(200);
  });

  it('one that runs script or reads files is still refused', async () => {
    for (const uri of ['javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,hi']) {
      const reg = await registerWith([uri]);
      expect([reg.status, reg.body['error']]).toEqual([400, 'invalid_redirect_uri']);
    }
  });
});

/**
 * A browser sent to the hub's /authorize under another loopback name than the issuer's (a client
 * that skips metadata discovery uses the default endpoints on the origin it was given,
 * `http://localhost:PORT/authorize`, while the issuer is 127.0.0.1) signs in and consents there:
 * every step after a form post stays on the host the browser used, where its sign-in cookies are.
 * The library's own resume URL named the issuer's host, whose cookie jar is empty, and the sign-in
 * ended on "authorization request has expired".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, formOf, initialize, pkce, register, signIn } from './support.js';

let hub: RunningHub;
let issuer: string;
let localhost: string;
beforeAll(async () => {
  hub = await startHub();
  issuer = `http://127.0.0.1:${hub.port}`;
  localhost = `http://localhost:${hub.port}`;
});
afterAll(() => hub?.stop());

describe('signing in under another loopback name than the issuer', () => {
  it('a browser at localhost signs in, consents and is sent back with a code that works', async () => {
    const clientId = String((await register(localhost)).body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(localhost, clientId, p, { resource: `${localhost}/mcp` }), hub.token);
    expect(callback.searchParams.get('error')).toBeNull();
    const code = callback.searchParams.get('code');
    expect(code).not.toBeNull();
    const token = await exchangeCode(localhost, clientId, code!, p.verifier, { resource: `${localhost}/mcp` });
    expect(token.status).toBe(200);
    const res = await initialize(hub.url, String(token.body['access_token']));
    await res.body?.cancel();
    expect(res.status).toBe(200);
  });

  it('each step after a post stays on the browser’s host; a browser at the issuer is unchanged', async () => {
    const clientId = String((await register(issuer)).body['client_id']);
    for (const origin of [localhost, issuer]) {
      const browser = new Browser();
      let res = await browser.get(authorizeUrl(origin, clientId, pkce()).href);
      const page = await browser.get(new URL(res.headers.get('location')!, origin).href);
      const login = formOf(await page.text());
      res = await browser.post(new URL(login.action, origin).href, { csrf: login.csrf, token: hub.token });
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location')!, origin).origin).toBe(origin);
      await res.body?.cancel();
    }
  });
});

/**
 * The sign-in and consent pages name where the client is sent back to in CSP `form-action`
 * (browsers apply it to the redirects that follow a form post). A client sent back to an IPv6
 * literal (`http://[::1]:PORT`, a loopback redirect registration allows) gets a source browsers
 * accept: the host-source grammar has no IPv6 literal, so `http://[::1]:PORT` would be dropped and
 * the redirect carrying the code blocked. Every other client keeps its own origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, formOf, pkce } from './support.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

/** The sources of `form-action` on the sign-in page (after signing in with `token`, the consent page's too). */
async function formActions(redirectUri: string): Promise<{ signIn: string[]; consent: string[] }> {
  const reg = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'CLI', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  });
  expect(reg.status).toBe(201);
  const clientId = String(((await reg.json()) as Record<string, unknown>)['client_id']);
  const browser = new Browser();
  const follow = async (res: Response): Promise<Response> => {
    for (let i = 0; i < 6 && res.status === 303; i++) res = await browser.get(new URL(res.headers.get('location')!, base).href);
    return res;
  };
  const page = await follow(await browser.get(authorizeUrl(base, clientId, pkce(), { redirect_uri: redirectUri }).href));
  const form = formOf(await page.text());
  const consent = await follow(await browser.post(new URL(form.action, base).href, { csrf: form.csrf, token: hub.token }));
  expect([page.status, consent.status]).toEqual([200, 200]);
  expect(await consent.text()).toContain('Allow access?');
  const sources = (res: Response) =>
    (res.headers.get('content-security-policy') ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .find(([name]) => name === 'form-action')
      ?.slice(1);
  return { signIn: sources(page) ?? [], consent: sources(consent) ?? [] };
}

describe('form-action on the sign-in pages', () => {
  it('a client sent back to http://[::1]:PORT gets the scheme, a source browsers accept', async () => {
    expect(await formActions('http://[::1]:50003/callback')).toEqual({ signIn: ["'self'", 'http:'], consent: ["'self'", 'http:'] });
  });

  it('a client sent back to 127.0.0.1 or a named host keeps its own origin', async () => {
    expect(await formActions('http://127.0.0.1:50004/callback')).toEqual({
      signIn: ["'self'", 'http://127.0.0.1:50004'],
      consent: ["'self'", 'http://127.0.0.1:50004'],
    });
    expect(await formActions('http://localhost:50005/callback')).toEqual({
      signIn: ["'self'", 'http://localhost:50005'],
      consent: ["'self'", 'http://localhost:50005'],
    });
  });
});

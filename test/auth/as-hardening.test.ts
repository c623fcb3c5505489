/**
 * The authorization server refuses what the RFCs and the MCP authorization spec say it must, found
 * by driving it as clients and attackers do: plain-http redirects off loopback, names that pose as
 * another app, a refresh that names another resource, a browser session whose hub token was
 * revoked, DPoP it does not enforce; and it lets SDK clients on loopback change port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerAddress } from '../../src/auth/registration-limit.js';
import { Browser } from '../fakes/browser.js';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { authorizeUrl, formOf, obtainTokens, pageAfterRedirects, pkce, REDIRECT, register, signIn, tokenRequest } from './support.js';

let hub: RunningHub;
let base: string;
const logLines: string[] = [];
// Each describe registers clients from this one address: an hour passes between them, so none hits the limit.
const clock = manualClock(Date.now());
beforeAll(async () => {
  hub = await startHub({}, { clock, log: capturedLogger(logLines, 'info') });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

async function registerRaw(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const publicClient = { token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };

describe('registration policy', () => {
  it('refuses plain-http redirects off loopback, wildcard hosts and user info before the host with invalid_redirect_uri', async () => {
    for (const uri of [
      'http://evil.example/cb',
      'http://10.0.0.5:8080/cb',
      'https://*.example.com/cb',
      'https://app.example.com@evil.example/cb',
      'http://user:pw@127.0.0.1:9/cb',
    ]) {
      const r = await registerRaw({ ...publicClient, redirect_uris: [uri] });
      expect([uri, r.status, r.body['error']]).toEqual([uri, 400, 'invalid_redirect_uri']);
      expect(String(r.body['error_description'])).toContain(`redirect_uris: ${uri}`);
    }
    const https = await registerRaw({ ...publicClient, redirect_uris: ['https://app.example.com/cb'], client_name: 'Web app' });
    expect(https.status).toBe(201);
    expect(https.body['application_type']).toBe('web');
  });

  it('refuses a client_name with bidi or control characters, or over 200 characters', async () => {
    for (const name of ['My App \u202eexe.tpircs\u202c', 'two\nlines', 'x'.repeat(201)]) {
      const r = await registerRaw({ ...publicClient, redirect_uris: [REDIRECT], client_name: name });
      expect([r.status, r.body['error']]).toEqual([400, 'invalid_client_metadata']);
    }
  });

  it('registers a loopback-only client that names no application_type as native, so any loopback port is accepted (RFC 8252 §7.3)', async () => {
    const reg = await register(base, 'SDK client');
    expect(reg.status).toBe(201);
    expect(reg.body['application_type']).toBe('native');
    const res = await fetch(authorizeUrl(base, String(reg.body['client_id']), pkce(), { redirect_uri: 'http://127.0.0.1:54321/callback' }), {
      redirect: 'manual',
    });
    await res.body?.cancel();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/sign-in\//);
  });

  it('a registration naming no token_endpoint_auth_method is a public client, answered without a secret it could not use', async () => {
    const r = await registerRaw({ redirect_uris: [REDIRECT], client_name: 'No method named' });
    expect(r.status).toBe(201);
    expect(r.body['token_endpoint_auth_method']).toBe('none');
    expect(r.body).not.toHaveProperty('client_secret');
    expect(r.body).not.toHaveProperty('client_secret_expires_at');
    // A confidential client still gets its secret.
    const confidential = await registerRaw({ redirect_uris: [REDIRECT], client_name: 'Confidential', token_endpoint_auth_method: 'client_secret_basic' });
    expect(confidential.status).toBe(201);
    expect(confidential.body['client_secret']).toEqual(expect.any(String));
  });

  it('counts only registrations made: malformed ones do not use up an address’s allowance', async () => {
    for (let i = 0; i < 12; i++) expect((await registerRaw({ redirect_uris: 'not-an-array' })).status).toBe(400);
    expect((await register(base, 'after bad ones')).status).toBe(201);
  });
});

describe('registration limit behind a reverse proxy on this machine', () => {
  it('counts each caller by the address the proxy forwarded, not the proxy’s own', async () => {
    const from = (address: string) =>
      fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.9, ${address}` },
        body: JSON.stringify({ ...publicClient, redirect_uris: [REDIRECT], client_name: `via proxy ${address}` }),
      }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      });
    for (let i = 0; i < 10; i++) expect(await from('203.0.113.5')).toBe(201);
    expect(await from('203.0.113.5')).toBe(429);
    expect(await from('203.0.113.6')).toBe(201);
  });

  it('lets the clients on the hub’s own machine, which share one loopback address, register more than a remote address may', async () => {
    for (let i = 0; i < 15; i++) expect((await register(base, `local client ${i}`)).status).toBe(201);
  });

  it('ignores X-Forwarded-For from a peer that is not loopback', () => {
    expect(callerAddress('192.0.2.7', '203.0.113.5')).toBe('192.0.2.7');
    expect(callerAddress('127.0.0.1', '198.51.100.9, 203.0.113.5')).toBe('203.0.113.5');
    expect(callerAddress('::ffff:127.0.0.1', ['203.0.113.5'])).toBe('203.0.113.5');
    expect(callerAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
  });
});

describe('tokens', () => {
  beforeAll(() => clock.advance(3_600_000));

  it('advertises no DPoP, which /mcp does not check', async () => {
    const meta = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).not.toHaveProperty('dpop_signing_alg_values_supported');
  });

  it('a refresh naming another resource is refused without spending the refresh token', async () => {
    const { clientId, tokens } = await obtainTokens(base, hub.token);
    const refresh = (resource: string) =>
      tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token!, resource });
    const wrong = await refresh('https://evil.example/mcp');
    expect([wrong.status, wrong.body['error']]).toEqual([400, 'invalid_target']);
    const right = await refresh(`${base}/mcp`);
    expect(right.status).toBe(200);
    expect(right.body['access_token']).toEqual(expect.any(String));
  });

  it('logs a reused refresh token and the grant it ended, naming neither token', async () => {
    const { clientId, tokens } = await obtainTokens(base, hub.token);
    const refresh = () => tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! });
    expect((await refresh()).status).toBe(200);
    expect((await refresh()).body['error']).toBe('invalid_grant');
    const logged = logLines.join('');
    expect(logged).toContain('"detail":"refresh token already used"');
    expect(logged).toContain('OAuth grant ended');
    expect(logged).not.toContain(tokens.refresh_token!);
    expect(logged).not.toContain(tokens.access_token);
  });

  it('a request with no credentials gets a challenge without an error code, naming the scope (RFC 6750 §3.1)', async () => {
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await res.body?.cancel();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp"`);
    const wrong = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{}' });
    await wrong.body?.cancel();
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('credentials in another scheme than Bearer, or a Bearer without a token, are no credentials: the same challenge without an error code', async () => {
    for (const authorization of ['Basic YWxpY2U6c2VjcmV0', 'Token abc', 'Bearer', 'Bearer   ']) {
      const res = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: '{}' });
      await res.body?.cancel();
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate'), authorization).toBe(
        `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="mcp"`,
      );
    }
    // The scheme is case-insensitive (RFC 9110 §11.1): a lower-case bearer token is checked as one.
    const lower = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'bearer nope' }, body: '{}' });
    await lower.body?.cancel();
    expect(lower.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });
});

describe('sign-in sessions', () => {
  beforeAll(() => clock.advance(3_600_000));

  it('a browser signed in with a hub token that is then revoked must sign in again; two users side by side', async () => {
    const carol = await hub.hub.tokens.create({ user: 'carol' });
    const dave = await hub.hub.tokens.create({ user: 'dave' });
    const carolBrowser = new Browser();
    const daveBrowser = new Browser();
    const firstOf = async (browser: Browser, token: string) => {
      const reg = await register(base, 'first');
      const { callback } = await signIn(authorizeUrl(base, String(reg.body['client_id']), pkce()), token, { browser });
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    };
    await firstOf(carolBrowser, carol.token);
    await firstOf(daveBrowser, dave.token);
    await hub.hub.tokens.revoke(carol.record.id);

    // A new client in carol's browser: the sign-in form again, not consent as carol.
    const pageOf = async (browser: Browser) => {
      const reg = await register(base, 'second');
      return (await pageAfterRedirects(browser, authorizeUrl(base, String(reg.body['client_id']), pkce()))).html;
    };
    const carolPage = await pageOf(carolBrowser);
    expect(formOf(carolPage).action).toMatch(/\/login$/);
    expect(carolPage).toContain('Sign in to Switchboard');
    // Dave's session, signed in with a token that stands, goes on to consent.
    const davePage = await pageOf(daveBrowser);
    expect(formOf(davePage).action).toMatch(/\/consent$/);
    expect(davePage).toContain('<b>dave</b>');
    // And the revoked token cannot sign carol in again: the sign-in form answers 401.
    const reg = await register(base, 'third');
    await expect(signIn(authorizeUrl(base, String(reg.body['client_id']), pkce()), carol.token, { browser: carolBrowser })).rejects.toThrow(
      /^401 from .*\/login/,
    );
  });

  it('a request for no scope the hub knows goes back to the client with invalid_scope before any sign-in', async () => {
    const reg = await register(base, 'admin scope');
    const browser = new Browser();
    let res = await browser.get(authorizeUrl(base, String(reg.body['client_id']), pkce(), { scope: 'admin' }).href);
    let location = '';
    for (let i = 0; i < 6 && res.status >= 300 && res.status < 400; i++) {
      location = new URL(res.headers.get('location')!, base).href;
      await res.body?.cancel();
      if (location.startsWith(REDIRECT)) break;
      res = await browser.get(location);
    }
    const back = new URL(location);
    expect(back.href.startsWith(REDIRECT)).toBe(true);
    expect(back.searchParams.get('error')).toBe('invalid_scope');
    expect(back.searchParams.get('state')).toBe('st');
  });

  it('the consent page lists only scopes a token will carry; error pages carry the pages’ headers', async () => {
    const reg = await register(base, 'scopes');
    const { pages } = await signIn(authorizeUrl(base, String(reg.body['client_id']), pkce(), { scope: 'metrics mcp' }), hub.token);
    const consent = pages.find((p) => p.includes('Allow access?'))!;
    expect(consent).toContain('<code>mcp</code>');
    expect(consent).not.toContain('metrics');
    const failed = await fetch(authorizeUrl(base, 'sbc_unknown', pkce()));
    expect(failed.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(failed.headers.get('x-content-type-options')).toBe('nosniff');
    await failed.body?.cancel();
  });
});

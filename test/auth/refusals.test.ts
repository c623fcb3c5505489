/**
 * What the hub's authorization server and /mcp refuse: the metadata that leads clients there, PKCE
 * and the resource enforced before any sign-in, tokens for another resource, expired or revoked
 * ones (401 `invalid_token` with a description that says what to do), forged sign-in posts, and
 * registrations beyond the per-address limit or left unused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthServer } from '../../src/auth/server.js';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { REDIRECT, authorizeUrl, formOf, initialize, obtainTokens, pkce, register, revoke, signIn, tokenRequest } from './support.js';

const clock = manualClock(Date.now());
const API_ORIGIN = 'https://app.example';
let hub: RunningHub;
let base: string;
let alice: string;
beforeAll(async () => {
  // An origin allowed to call the hub's API is still not the sign-in page's own.
  hub = await startHub({ server: { allowedOrigins: [API_ORIGIN] } }, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  alice = (await hub.hub.tokens.create({ user: 'alice' })).token;
});
afterAll(() => hub?.stop());

const challengeOf = (res: Response) => res.headers.get('www-authenticate') ?? '';

describe('discovery', () => {
  it('the resource metadata names the hub as its authorization server, whose RFC 8414 metadata says PKCE S256, rotation-ready grants, revocation and registration', async () => {
    const prm = await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(prm).toEqual({
      resource: `${base}/mcp`,
      authorization_servers: [base],
      scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'],
      resource_name: 'Switchboard MCP hub',
    });
    const as = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as).toMatchObject({
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      registration_endpoint: `${base}/register`,
      revocation_endpoint: `${base}/revoke`,
      jwks_uri: `${base}/jwks`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(as['grant_types_supported']).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(as['token_endpoint_auth_methods_supported']).toContain('none');
    // Every endpoint it names is one the hub routes: no pushed-authorization endpoint it would 404.
    for (const unrouted of ['pushed_authorization_request_endpoint', 'end_session_endpoint', 'userinfo_endpoint']) expect(as).not.toHaveProperty(unrouted);
    // The same document for OIDC clients; the JWKS has the one ES256 key and no private part.
    expect(await (await fetch(`${base}/.well-known/openid-configuration`)).json()).toMatchObject({ issuer: base, token_endpoint: `${base}/token` });
    const jwks = (await (await fetch(`${base}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });
});

describe('a browser client on an allowed origin (the Inspector’s web UI)', () => {
  it('can register, as it does first: the preflight and the registration answer carry CORS for its origin', async () => {
    const preflight = await fetch(`${base}/register`, {
      method: 'OPTIONS',
      headers: { origin: API_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(API_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type');
    const registered = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { origin: API_ORIGIN, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [`${API_ORIGIN}/oauth/callback`], token_endpoint_auth_method: 'none', client_name: 'Web UI' }),
    });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('access-control-allow-origin')).toBe(API_ORIGIN);
    // And the next steps of its sign-in, answered by the library itself.
    for (const path of ['/.well-known/oauth-authorization-server', '/token']) {
      const res = await fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: { origin: API_ORIGIN, 'access-control-request-method': path === '/token' ? 'POST' : 'GET' },
      });
      expect(res.headers.get('access-control-allow-origin'), path).toBe(API_ORIGIN);
    }
  });
});

describe('wrong methods and oversized bodies', () => {
  it('a method an endpoint does not answer gets 405 with Allow; a body over the library’s cap gets 413; both RFC 6749 errors', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/token', 'POST'],
      ['GET', '/register', 'POST'],
      ['GET', '/revoke', 'POST'],
      ['PUT', '/jwks', 'GET, HEAD'],
      ['PATCH', '/.well-known/oauth-authorization-server', 'GET, HEAD'],
      // The library's POST form of the endpoint is off: its cookies are SameSite=Lax (route-guard.ts).
      ['POST', '/authorize', 'GET, HEAD'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    }
    const big = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=${'a'.repeat(60 * 1024)}`,
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'invalid_request' });
    // The endpoints still answer what they answer.
    expect((await fetch(`${base}/jwks`)).status).toBe(200);
    expect(
      (await fetch(`${base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=x' })).status,
    ).toBe(400);
  });
});

describe('authorization requests', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = String((await register(base)).body['client_id']);
  });

  it.each([
    ['without PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['with plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['for another resource', { resource: 'https://other.example/api' }, 'invalid_target'],
  ])('%s is refused back to the client before any sign-in page', async (_what, params, error) => {
    const res = await fetch(authorizeUrl(base, clientId, pkce(), params), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin + to.pathname).toBe(REDIRECT);
    expect(to.searchParams.get('error')).toBe(error);
    expect(to.searchParams.get('state')).toBe('st');
  });

  it('a denied consent sends access_denied back to the client', async () => {
    const { callback } = await signIn(authorizeUrl(base, clientId, pkce()), alice, { deny: true });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('a wrong, revoked or admin-only hub token does not sign in; the page says why', async () => {
    const admin = await hub.hub.tokens.create({ user: 'alice', scopes: ['admin'] });
    const revoked = await hub.hub.tokens.create({ user: 'alice' });
    await hub.hub.tokens.revoke(revoked.record.id);
    const browser = new Browser();
    let res = await browser.get(authorizeUrl(base, clientId, pkce()).href);
    const signInUrl = new URL(res.headers.get('location')!, base);
    res = await browser.get(signInUrl.href);
    const form = formOf(await res.text());
    for (const [token, why] of [
      ['sbt_not-a-token', 'not a valid hub token'],
      [revoked.token, 'not a valid hub token'],
      [admin.token, 'lacks the mcp scope'],
    ] as const) {
      const page = await browser.post(new URL(form.action, base).href, { csrf: form.csrf, token });
      expect(page.status).toBe(401);
      expect(await page.text()).toContain(why);
    }
  });

  it('a sign-in post without the page’s CSRF token, from another site, or from another browser is refused', async () => {
    const browser = new Browser();
    let res = await browser.get(authorizeUrl(base, clientId, pkce()).href);
    res = await browser.get(new URL(res.headers.get('location')!, base).href);
    const form = formOf(await res.text());
    const action = new URL(form.action, base).href;
    expect((await browser.post(action, { csrf: 'forged', token: alice })).status).toBe(403);
    // Another site's page posting the form: its browser says so, or sends its Origin.
    const cookie = browser.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const body = new URLSearchParams({ csrf: form.csrf, token: alice });
    const headers = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
    expect((await fetch(action, { method: 'POST', headers: { ...headers, 'sec-fetch-site': 'cross-site' }, body, redirect: 'manual' })).status).toBe(403);
    expect((await fetch(action, { method: 'POST', headers: { ...headers, origin: 'https://evil.example' }, body, redirect: 'manual' })).status).toBe(403);
    const fromApiOrigin = await fetch(action, { method: 'POST', headers: { ...headers, origin: API_ORIGIN }, body, redirect: 'manual' });
    expect(fromApiOrigin.status).toBe(403);
    expect(await fromApiOrigin.text()).toContain('This form was not sent from its own page.');
    // Without the interaction cookie (another browser that learned the URL and token): nothing to resume.
    const other = await new Browser().post(action, { csrf: form.csrf, token: alice });
    expect(other.status).toBe(400);
    // The real page, posting from its own origin, still works.
    const ok = await fetch(action, { method: 'POST', headers: { ...headers, origin: base, 'sec-fetch-site': 'same-origin' }, body, redirect: 'manual' });
    expect(ok.status).toBe(303);
  });
});

describe('tokens refused at /mcp', () => {
  it('a token minted for another resource: 401 invalid_token naming the reason', async () => {
    // Another process on the data dir with the same issuer mints what the endpoints never would.
    const other = await createAuthServer({ store: hub.hub.store, vault: hub.hub.vault, clock, log: silentLogger(), tokens: hub.hub.tokens, publicUrl: base });
    const { clientId } = await obtainTokens(base, alice);
    const token = await new (await other.provider()).AccessToken({
      accountId: 'default/alice',
      clientId,
      grantId: 'g-other',
      aud: 'https://other.example/api',
      scope: 'mcp',
      expiresIn: 3600,
    }).save();
    const res = await initialize(hub.url, token);
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toMatch(
      /^Bearer error="invalid_token", error_description="the access token was issued for another resource, not this \/mcp\. Sign in with OAuth/,
    );
    expect(challengeOf(res)).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('a revoked token (RFC 7009) and the rest of its grant: 401 unknown or revoked', async () => {
    const { clientId, tokens } = await obtainTokens(base, alice);
    const ok = await initialize(hub.url, tokens.access_token);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    expect(await revoke(base, clientId, tokens.access_token)).toBe(200);
    const res = await initialize(hub.url, tokens.access_token);
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toMatch(/^Bearer error="invalid_token", error_description="unknown or revoked token\. Sign in with OAuth/);
    // The library revokes the grant with its access token: the refresh token is dead too.
    expect(await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('an expired token, on the hub’s clock: 401 saying it expired; its refresh token still gets a new one', async () => {
    const { clientId, tokens } = await obtainTokens(base, alice);
    expect(tokens.expires_in).toBe(3600);
    const before = clock.now();
    // The token's expiry is its issue time (in whole seconds) plus the hour, so at most this.
    clock.set(Date.now() + 3600_000);
    const res = await initialize(hub.url, tokens.access_token);
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toMatch(/^Bearer error="invalid_token", error_description="the access token has expired; refresh it or sign in again\./);
    clock.set(before);
    const fresh = await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token! });
    expect(fresh.status).toBe(200);
    const ok = await initialize(hub.url, String(fresh.body['access_token']));
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });
});

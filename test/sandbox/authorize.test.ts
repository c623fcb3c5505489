import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT, OTHER, api, authorizeUrl, openConsent, pkce, startSandbox, submitConsent, token, type Harness } from './harness.js';

describe('sandbox authorization endpoint', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startSandbox();
  });
  afterEach(() => h.close());

  const params = (extra: Record<string, string | undefined> = {}) => ({
    response_type: 'code',
    client_id: CLIENT.id,
    redirect_uri: CLIENT.redirectUris[0],
    state: 'st-1',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });

  it('publishes RFC 8414 metadata under the mount', async () => {
    const res = await fetch(`${h.issuer}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      issuer: h.issuer,
      authorization_endpoint: `${h.issuer}/oauth/authorize`,
      token_endpoint: `${h.issuer}/oauth/token`,
      revocation_endpoint: `${h.issuer}/oauth/revoke`,
      scopes_supported: ['read', 'write'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(h.sandbox.wellKnownPath).toBe('/.well-known/oauth-authorization-server/sandbox');
  });

  it('runs the whole code flow with PKCE through the HTML form', async () => {
    const { verifier, challenge } = pkce();
    const consent = await openConsent(h, params({ code_challenge: challenge, scope: 'read write' }));
    expect(consent.html).toContain('<strong>Switchboard</strong> asks for access');
    expect(consent.html).toMatch(/<input id="username" name="username"[^>]*required/);
    expect(consent.html).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
    expect(consent.html).toContain('value="deny" formnovalidate>Deny</button>');
    expect(consent.html).toContain('<code>read</code>');
    expect(consent.html).toContain('<code>write</code>');
    expect(consent.html).not.toContain('<script');
    expect(consent.response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(consent.response.headers.get('cache-control')).toBe('no-store');
    expect(consent.response.headers.get('referrer-policy')).toBe('same-origin');
    expect(consent.response.headers.getSetCookie()[0]).toMatch(
      /^sbx_ia_[0-9a-f]{16}=sbx_br_[\w-]{43}; Path=\/sandbox\/oauth\/authorize; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );

    const res = await submitConsent(h, consent, { username: 'Alice', decision: 'allow' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(CLIENT.redirectUris[0]);
    expect([...back.searchParams.keys()].sort()).toEqual(['code', 'iss', 'state']);
    expect(back.searchParams.get('state')).toBe('st-1');
    expect(back.searchParams.get('iss')).toBe(h.issuer);
    const code = back.searchParams.get('code')!;
    expect(code).toMatch(/^sbx_code_[\w-]{43}$/);

    const r = await token(h, { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectUris[0]!, code_verifier: verifier });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('pragma')).toBe('no-cache');
    expect(r.body).toEqual({
      access_token: expect.stringMatching(/^sbx_at_[\w-]{43}$/),
      refresh_token: expect.stringMatching(/^sbx_rt_[\w-]{43}$/),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'read write',
    });
    const me = await api(h, 'GET', '/me', r.body['access_token'] as string);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ username: 'alice', created_at: new Date(h.clock.now()).toISOString(), scopes: ['read', 'write'] });
  });

  it('redirects access_denied with state and iss when the user denies', async () => {
    const consent = await openConsent(h, params());
    const res = await submitConsent(h, consent, { decision: 'deny' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(back.searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'the user denied the request',
      state: 'st-1',
      iss: h.issuer,
    });
  });

  it('keeps the query of a registered redirect URI', async () => {
    const consent = await openConsent(h, params({ client_id: OTHER.id, redirect_uri: OTHER.redirectUris[0], state: undefined }));
    const back = new URL((await submitConsent(h, consent, { username: 'bob', decision: 'allow' })).headers.get('location')!);
    expect(back.searchParams.get('tenant')).toBe('a');
    expect(back.searchParams.has('state')).toBe(false);
    expect(back.searchParams.get('code')).toMatch(/^sbx_code_/);
  });

  it.each([
    ['an unknown client', { client_id: 'nobody' }, 'Unknown application'],
    ['no client', { client_id: undefined }, 'Unknown application'],
    ['an unregistered redirect URI', { redirect_uri: 'http://127.0.0.1:9/evil' }, 'Invalid redirect URI'],
    ['a redirect URI that only differs by a slash', { redirect_uri: `${CLIENT.redirectUris[0]}/` }, 'Invalid redirect URI'],
    ["another client's redirect URI", { redirect_uri: OTHER.redirectUris[0] }, 'Invalid redirect URI'],
  ])('shows an error page, never a redirect, for %s', async (_name, extra, title) => {
    const res = await fetch(authorizeUrl(h, params(extra)), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain(`<h1>${title}</h1>`);
  });

  it.each([
    ['no code_challenge', { code_challenge: undefined }, 'invalid_request', 'code_challenge is required'],
    ['the plain method', { code_challenge_method: 'plain' }, 'invalid_request', 'code_challenge_method must be S256'],
    ['no method (plain by default)', { code_challenge_method: undefined }, 'invalid_request', 'code_challenge_method must be S256'],
    ['a malformed challenge', { code_challenge: 'short' }, 'invalid_request', 'code_challenge is not an S256 challenge'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type', 'only response_type=code is supported'],
    ['an unknown scope', { scope: 'read admin' }, 'invalid_scope', 'unknown scope: admin'],
  ])('redirects an error for %s, with state and iss', async (_name, extra, error, description) => {
    const res = await fetch(authorizeUrl(h, params(extra)), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(CLIENT.redirectUris[0]);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error, error_description: description, state: 'st-1', iss: h.issuer });
  });

  it('refuses a repeated parameter (RFC 6749 §3.1)', async () => {
    const res = await fetch(`${authorizeUrl(h, params())}&scope=read&scope=write`, { redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('error_description')).toBe('parameter scope is repeated');
  });

  it('refuses a consent post without the browser cookie, from another site, or twice', async () => {
    const consent = await openConsent(h, params());
    const noCookie = await submitConsent(h, { ...consent, cookie: 'x=y' }, { username: 'alice', decision: 'allow' });
    expect(noCookie.status).toBe(400);
    expect(await noCookie.text()).toContain('<h1>Sign-in expired</h1>');
    const crossSite = await submitConsent(h, consent, { username: 'alice', decision: 'allow' }, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('location')).toBeNull();

    expect((await submitConsent(h, consent, { username: 'alice', decision: 'allow' })).status).toBe(302);
    const replay = await submitConsent(h, consent, { username: 'alice', decision: 'allow' });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
  });

  it('expires an open consent page after ten minutes', async () => {
    const consent = await openConsent(h, params());
    h.clock.advance(10 * 60_000);
    const res = await submitConsent(h, consent, { username: 'alice', decision: 'allow' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('shows the form again, escaped, for a bad username, and the same interaction still works', async () => {
    const consent = await openConsent(h, params());
    const bad = await submitConsent(h, consent, { username: '<img src=x onerror=alert(1)>"', decision: 'allow' });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain('value="&lt;img src=x onerror=alert(1)&gt;&quot;"');
    expect(html).not.toContain('<img');
    expect(html).toContain('role="alert"');
    const ok = await submitConsent(h, consent, { username: 'alice', decision: 'allow' });
    expect(ok.status).toBe(302);
  });
});

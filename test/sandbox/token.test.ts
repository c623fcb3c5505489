import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT, OTHER, api, authorize, link, refresh, startSandbox, token, type Harness } from './harness.js';

const invalidGrant = (description: string) => ({ error: 'invalid_grant', error_description: description });

describe('sandbox token endpoint', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startSandbox();
  });
  afterEach(() => h.close());

  const exchange = (a: { code: string; verifier: string; redirectUri: string }, over: Record<string, string> = {}, auth: 'basic' | 'post' = 'basic') =>
    token(h, { grant_type: 'authorization_code', code: a.code, redirect_uri: a.redirectUri, code_verifier: a.verifier, ...over }, auth);

  it('accepts client_secret_post as well as client_secret_basic', async () => {
    const r = await exchange(await authorize(h, 'alice'), {}, 'post');
    expect(r.status).toBe(200);
    expect(r.body['token_type']).toBe('Bearer');
  });

  it('answers invalid_client with 401 and a Basic challenge for a wrong secret', async () => {
    const a = await authorize(h, 'alice');
    const r = await token(h, { grant_type: 'authorization_code', code: a.code, redirect_uri: a.redirectUri, code_verifier: a.verifier }, 'basic', {
      ...CLIENT,
      secret: 'wrong',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="sandbox", charset="UTF-8"');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    const none = await token(h, { grant_type: 'authorization_code', code: a.code }, 'none');
    expect(none.status).toBe(401);
    expect(none.body['error']).toBe('invalid_client');
  });

  it('refuses two client authentication methods at once (RFC 6749 §2.3)', async () => {
    const r = await token(h, { grant_type: 'refresh_token', refresh_token: 'x', client_secret: CLIENT.secret });
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('invalid_request');
  });

  it('answers invalid_grant for a wrong code_verifier, and the code still works with the right one', async () => {
    const a = await authorize(h, 'alice');
    const wrong = await exchange(a, { code_verifier: 'w'.repeat(43) });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get('cache-control')).toBe('no-store');
    expect(wrong.body).toEqual(invalidGrant('code_verifier does not match code_challenge'));
    expect((await exchange(a)).status).toBe(200);
  });

  it('refuses a missing or malformed code_verifier as invalid_request', async () => {
    const a = await authorize(h, 'alice');
    expect((await token(h, { grant_type: 'authorization_code', code: a.code, redirect_uri: a.redirectUri })).body).toEqual({
      error: 'invalid_request',
      error_description: 'parameter code_verifier is required',
    });
    expect((await exchange(a, { code_verifier: 'too-short' })).body['error']).toBe('invalid_request');
  });

  it('answers invalid_grant on code reuse and revokes the tokens issued for that code', async () => {
    const a = await authorize(h, 'alice');
    const first = await exchange(a);
    expect(first.status).toBe(200);
    expect((await api(h, 'GET', '/me', first.body['access_token'] as string)).status).toBe(200);

    const again = await exchange(a);
    expect(again.status).toBe(400);
    expect(again.body).toEqual(invalidGrant('authorization code already used; its tokens are revoked'));
    // RFC 6749 §4.1.2: the replay is a sign the code leaked, so its tokens stop working.
    expect((await api(h, 'GET', '/me', first.body['access_token'] as string)).status).toBe(401);
    expect((await refresh(h, first.body['refresh_token'] as string)).body['error']).toBe('invalid_grant');
  });

  it('expires a code after 60 seconds', async () => {
    const a = await authorize(h, 'alice');
    h.clock.advance(60_000);
    expect((await exchange(a)).body).toEqual(invalidGrant('authorization code expired'));
  });

  it('refuses a code with another redirect_uri or from another client', async () => {
    const a = await authorize(h, 'alice');
    expect((await exchange(a, { redirect_uri: OTHER.redirectUris[0]! })).body).toEqual(invalidGrant('redirect_uri does not match the authorization request'));
    const other = await token(h, { grant_type: 'authorization_code', code: a.code, redirect_uri: a.redirectUri, code_verifier: a.verifier }, 'basic', OTHER);
    expect(other.body).toEqual(invalidGrant('unknown authorization code'));
    expect((await exchange(a)).status).toBe(200);
  });

  it('refuses unknown grant types, repeated parameters and non-form bodies', async () => {
    expect((await token(h, { grant_type: 'password' })).body).toEqual({
      error: 'unsupported_grant_type',
      error_description: 'grant_type password is not supported',
    });
    const repeated = await fetch(`${h.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&client_id=hub&client_secret=hub-secret&refresh_token=a&refresh_token=b`,
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toEqual({ error: 'invalid_request', error_description: 'parameter refresh_token is repeated' });
    const json = await fetch(`${h.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":"refresh_token"}',
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('rotates the refresh token on every refresh', async () => {
    const t1 = await link(h, 'alice');
    const r2 = await refresh(h, t1.refresh_token);
    expect(r2.status).toBe(200);
    expect(r2.body).toEqual({
      access_token: expect.stringMatching(/^sbx_at_/),
      refresh_token: expect.stringMatching(/^sbx_rt_/),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'read write',
    });
    expect(r2.body['refresh_token']).not.toBe(t1.refresh_token);
    expect(r2.body['access_token']).not.toBe(t1.access_token);
    const r3 = await refresh(h, r2.body['refresh_token'] as string);
    expect(r3.status).toBe(200);
    expect(r3.body['refresh_token']).not.toBe(r2.body['refresh_token']);
    expect((await api(h, 'GET', '/me', r3.body['access_token'] as string)).status).toBe(200);
  });

  it('revokes the whole grant when a rotated refresh token is used again (RFC 9700 §4.14.2)', async () => {
    const t1 = await link(h, 'alice');
    const r2 = await refresh(h, t1.refresh_token);
    const r3 = await refresh(h, r2.body['refresh_token'] as string);
    const newestAccess = r3.body['access_token'] as string;
    expect((await api(h, 'GET', '/me', newestAccess)).status).toBe(200);

    const reuse = await refresh(h, t1.refresh_token);
    expect(reuse.status).toBe(400);
    expect(reuse.body).toEqual(invalidGrant('refresh token already used; the authorization is revoked'));

    const me = await api(h, 'GET', '/me', newestAccess);
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toBe('Bearer realm="sandbox", error="invalid_token", error_description="The access token was revoked"');
    expect((await refresh(h, r3.body['refresh_token'] as string)).body).toEqual(invalidGrant('refresh token revoked'));
  });

  it('keeps other grants of the same account alive when one grant is revoked', async () => {
    const laptop = await link(h, 'alice');
    const phone = await link(h, 'alice');
    await refresh(h, laptop.refresh_token);
    await refresh(h, laptop.refresh_token);
    expect((await api(h, 'GET', '/me', laptop.access_token)).status).toBe(401);
    expect((await api(h, 'GET', '/me', phone.access_token)).status).toBe(200);
  });

  it("refuses another client's refresh token and a wider scope", async () => {
    const t = await link(h, 'alice', { scope: 'read' });
    expect((await refresh(h, t.refresh_token, OTHER)).body).toEqual(invalidGrant('unknown refresh token'));
    const wider = await token(h, { grant_type: 'refresh_token', refresh_token: t.refresh_token, scope: 'read write' });
    expect(wider.body).toEqual({ error: 'invalid_scope', error_description: 'scope exceeds the scope originally granted' });
    const same = await token(h, { grant_type: 'refresh_token', refresh_token: t.refresh_token, scope: 'read' });
    expect(same.status).toBe(200);
    expect(same.body['scope']).toBe('read');
  });

  it('does not accept an access token as a refresh token', async () => {
    const t = await link(h, 'alice');
    expect((await refresh(h, t.access_token)).body).toEqual(invalidGrant('unknown refresh token'));
  });
});

describe('sandbox provider quirks', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('omitRefreshTokenOnRefresh: sends no new refresh token and the old one keeps working (like Google)', async () => {
    h = await startSandbox({ omitRefreshTokenOnRefresh: true });
    const t = await link(h, 'alice');
    const r1 = await refresh(h, t.refresh_token);
    expect(r1.status).toBe(200);
    expect(Object.keys(r1.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    const r2 = await refresh(h, t.refresh_token);
    expect(r2.status).toBe(200);
    expect((await api(h, 'GET', '/me', r2.body['access_token'] as string)).status).toBe(200);
  });

  it('omitExpiresIn: sends no expires_in, yet the token still expires (like Salesforce)', async () => {
    h = await startSandbox({ omitExpiresIn: true, accessTokenTtlSeconds: 120 });
    const t = await link(h, 'alice');
    expect(t).not.toHaveProperty('expires_in');
    expect((await refresh(h, t.refresh_token)).body).not.toHaveProperty('expires_in');
    h.clock.advance(119_999);
    expect((await api(h, 'GET', '/me', t.access_token)).status).toBe(200);
    h.clock.advance(1);
    expect((await api(h, 'GET', '/me', t.access_token)).status).toBe(401);
  });
});

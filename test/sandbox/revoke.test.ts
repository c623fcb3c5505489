import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OTHER, api, link, postForm, refresh, startSandbox, type Harness } from './harness.js';

describe('sandbox revocation endpoint (RFC 7009)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startSandbox();
  });
  afterEach(() => h.close());

  /** The raw response, to check that the body is really empty. */
  const revokeRaw = (params: Record<string, string>) =>
    fetch(`${h.issuer}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('hub:hub-secret').toString('base64')}` },
      body: new URLSearchParams(params),
    });

  it('answers an empty 200 and the access token stops working; the refresh token does not', async () => {
    const t = await link(h, 'alice');
    const res = await revokeRaw({ token: t.access_token, token_type_hint: 'access_token' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect(await res.text()).toBe('');
    const me = await api(h, 'GET', '/me', t.access_token);
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toBe('Bearer realm="sandbox", error="invalid_token", error_description="The access token was revoked"');
    expect((await refresh(h, t.refresh_token)).status).toBe(200);
  });

  it('revokes the whole grant for a refresh token, whatever the hint says', async () => {
    const t = await link(h, 'alice');
    const res = await revokeRaw({ token: t.refresh_token, token_type_hint: 'access_token' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect((await api(h, 'GET', '/me', t.access_token)).status).toBe(401);
    expect((await refresh(h, t.refresh_token)).body).toEqual({ error: 'invalid_grant', error_description: 'refresh token revoked' });
  });

  it('answers an empty 200 for unknown and already revoked tokens', async () => {
    const unknown = await revokeRaw({ token: 'sbx_at_never-issued' });
    expect(unknown.status).toBe(200);
    expect(await unknown.text()).toBe('');
    const t = await link(h, 'alice');
    await revokeRaw({ token: t.refresh_token });
    const twice = await revokeRaw({ token: t.refresh_token });
    expect(twice.status).toBe(200);
    expect(await twice.text()).toBe('');
  });

  it('requires client authentication and a token', async () => {
    const t = await link(h, 'alice');
    const anonymous = await postForm(`${h.issuer}/oauth/revoke`, { token: t.access_token }, 'none');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body['error']).toBe('invalid_client');
    const missing = await postForm(`${h.issuer}/oauth/revoke`, {}, 'post');
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'invalid_request', error_description: 'parameter token is required' });
    expect((await api(h, 'GET', '/me', t.access_token)).status).toBe(200);
  });

  it("refuses to revoke another client's token and leaves it working", async () => {
    const t = await link(h, 'alice');
    const res = await postForm(`${h.issuer}/oauth/revoke`, { token: t.access_token }, 'basic', OTHER);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'the token was not issued to this client' });
    expect((await api(h, 'GET', '/me', t.access_token)).status).toBe(200);
  });
});

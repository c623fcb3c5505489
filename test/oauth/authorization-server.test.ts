/**
 * The test authorization server behaves as the refresh tests assume: codes need PKCE, refresh
 * tokens rotate, a spent refresh token revokes the whole grant (RFC 9700 §4.14.2), and the API
 * accepts exactly the access tokens the server still considers valid.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';

const REDIRECT = 'http://127.0.0.1:9/oauth/callback';
const tokens = z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.string(), expires_in: z.number() });

describe('the test authorization server', () => {
  let oidc: OidcServer;

  beforeAll(async () => {
    oidc = await startOidcServer({ redirectUris: [REDIRECT] });
  });

  afterAll(async () => {
    await oidc?.close();
  });

  const tokenRequest = (form: Record<string, string>) =>
    fetch(`${oidc.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${oidc.clientId}:${oidc.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form),
    });
  const callApi = (token: string) => fetch(`${oidc.apiBaseUrl}/things`, { headers: { authorization: `Bearer ${token}` } });

  it('rotates refresh tokens and revokes the grant when a spent one comes back', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${oidc.issuer}/auth`);
    for (const [k, v] of Object.entries({
      client_id: oidc.clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })) {
      authorize.searchParams.set(k, v);
    }
    const callback = new URL(await new Browser().authorize(authorize.href, { login: 'wile@acme' }));
    expect(callback.origin + callback.pathname).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('st');
    expect(callback.searchParams.get('iss')).toBe(oidc.issuer);
    const code = callback.searchParams.get('code')!;

    const withoutVerifier = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(withoutVerifier.status).toBe(400);
    const first = tokens.parse(await (await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier })).json());
    expect((await callApi(first.access_token)).status).toBe(200);

    const second = tokens.parse(await (await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).json());
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await callApi(second.access_token)).status).toBe(200);

    const reuse = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
    // Reuse detection ended the grant: the newest tokens are dead too.
    const after = await tokenRequest({ grant_type: 'refresh_token', refresh_token: second.refresh_token });
    expect(await after.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await callApi(second.access_token)).status).toBe(401);
    expect((await callApi('not-a-token')).status).toBe(401);

    expect(oidc.tokenRequests('authorization_code')).toBe(2);
    expect(oidc.tokenRequests('refresh_token')).toBe(3);
    expect(oidc.issued.map((t) => t.grantType)).toEqual(['authorization_code', 'refresh_token']);
    expect(oidc.apiCalls.map((c) => c.status)).toEqual([200, 200, 401, 401]);
  });
});

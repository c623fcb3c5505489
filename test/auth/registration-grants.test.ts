/**
 * A registration that names a grant the hub does not offer beside the ones it does is registered
 * for those it does (RFC 7591 §2: the server may substitute suitable values, and says so in its
 * answer), as the same metadata in a Client ID Metadata Document is. Claude registers with
 * `urn:ietf:params:oauth:grant-type:jwt-bearer` next to the code and refresh grants, and was
 * refused `invalid_client_metadata` before the user ever saw the sign-in page. A registration
 * naming no grant the hub offers is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { REDIRECT, authorizeUrl, exchangeCode, pkce, signIn, tokenRequest } from './support.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

async function registerWith(grantTypes: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Claude',
      redirect_uris: [REDIRECT],
      grant_types: grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a registration naming grants the hub does not offer', () => {
  it('beside the code grant: registered for the grants offered, and the client signs in and refreshes', async () => {
    const reg = await registerWith(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer']);
    expect(reg.status).toBe(201);
    expect(reg.body['grant_types']).toEqual(['authorization_code', 'refresh_token']);
    const clientId = String(reg.body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(base, clientId, p), hub.token);
    const tokens = await exchangeCode(base, clientId, callback.searchParams.get('code')!, p.verifier);
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: String(tokens.body['refresh_token']) });
    expect(refreshed.status).toBe(200);
  });

  it('and none it offers: refused as before', async () => {
    const reg = await registerWith(['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer']);
    expect(reg.status).toBe(400);
    expect(reg.body['error']).toBe('invalid_client_metadata');
  });
});

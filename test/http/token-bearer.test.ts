/**
 * mcp-remote with `--header "Authorization:Bearer TOKEN"` (the README's Claude Desktop entry, copied
 * with its placeholder, or a token since revoked) sends that header to every request. /mcp refuses
 * the token, so mcp-remote starts an OAuth sign-in: it registers, the user signs in, and its code
 * exchange at /token carries the header too. The authorization server refused that as "invalid
 * authorization header value format", the last thing mcp-remote printed; the refusal now says why
 * the header is there and what to change, and spends nothing: the code still works without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEARER_AT_TOKEN_ENDPOINT } from '../../src/http/token-bearer.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, exchangeCode, initialize, pkce, REDIRECT, register, signIn } from '../auth/support.js';

let hub: RunningHub;
let base: string;

beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub.stop());

/** A code exchange as mcp-remote sends it when it was given `--header "Authorization:Bearer TOKEN"`. */
async function exchangeWithHeader(clientId: string, code: string, verifier: string, authorization: string): Promise<Response> {
  return fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      resource: `${base}/mcp`,
    }),
  });
}

describe('a token request carrying Authorization: Bearer', () => {
  it('is refused as invalid_request saying what to change, and leaves the code unspent', async () => {
    // /mcp refuses the placeholder: that is what sends mcp-remote to sign in.
    const refused = await initialize(hub.url, 'TOKEN');
    expect(refused.status).toBe(401);
    await refused.body?.cancel();

    const registered = await register(base, 'MCP CLI Proxy');
    expect(registered.status).toBe(201);
    const clientId = String(registered.body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(base, clientId, p), hub.token);
    const code = callback.searchParams.get('code')!;

    for (const authorization of ['Bearer TOKEN', 'bearer sbt_revoked-long-ago', 'Bearer']) {
      const res = await exchangeWithHeader(clientId, code, p.verifier, authorization);
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: 'invalid_request', error_description: BEARER_AT_TOKEN_ENDPOINT });
    }
    // RFC 6749 §5.2: error_description is printable ASCII without " or \.
    expect(BEARER_AT_TOKEN_ENDPOINT).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);

    const ok = await exchangeCode(base, clientId, code, p.verifier, { resource: `${base}/mcp` });
    expect(ok.status).toBe(200);
    const session = await initialize(hub.url, String(ok.body['access_token']));
    expect(session.status).toBe(200);
    await session.body?.cancel();
  });

  it('other client authentication (Basic) still reaches the authorization server, which answers as before', async () => {
    const res = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('nobody:secret').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope' }),
    });
    const body = (await res.json()) as { error: string; error_description?: string };
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(body.error_description).not.toBe(BEARER_AT_TOKEN_ENDPOINT);
  });
});

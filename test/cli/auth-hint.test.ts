import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_HINT, TOKEN_HINT } from '../../src/http/auth.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/** A 2025-11-25 initialize POST with an optional Authorization header. */
function initialize(url: string, authorization?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

const HOW_TO = {
  create: 'switchboard tokens create --user NAME',
  header: 'Authorization: Bearer TOKEN',
  mcp_remote: 'npx mcp-remote URL --header "Authorization: Bearer ${TOKEN}"',
};

describe('a 401 from /mcp says how to sign in or get and pass a hub token', () => {
  let hub: RunningHub;
  let metadata: string;
  beforeAll(async () => {
    hub = await startHub();
    metadata = `http://127.0.0.1:${hub.port}/.well-known/oauth-protected-resource/mcp`;
  });
  afterAll(() => hub.stop());

  it.each([
    ['no Authorization header', undefined, 'Missing Authorization header.'],
    ['a token the hub does not know', 'Bearer sbt_not-a-real-token', 'unknown or revoked token.'],
    ['another scheme', 'Basic dXNlcjpwdw==', "Invalid Authorization header format, expected 'Bearer TOKEN'."],
  ])('%s', async (_what, authorization, cause) => {
    const res = await initialize(hub.url, authorization);
    expect(res.status).toBe(401);
    const description = `${cause} ${OAUTH_HINT}`;
    // No credentials at all, or only in another scheme: a challenge without an error code (RFC 6750
    // §3.1, "attempted using an unsupported authentication method"); the body still says how to sign in.
    expect(res.headers.get('www-authenticate')).toBe(
      !authorization?.startsWith('Bearer ')
        ? `Bearer resource_metadata="${metadata}", scope="mcp"`
        : `Bearer error="invalid_token", error_description="${description}", scope="mcp", resource_metadata="${metadata}"`,
    );
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: description, how_to_authenticate: { ...HOW_TO, oauth: metadata } });
  });

  it('a revoked token is refused the same way, and a valid one passes', async () => {
    const { token, record } = await hub.hub.tokens.create({ user: 'bob' });
    const ok = await initialize(hub.url, `Bearer ${token}`);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    await hub.hub.tokens.revoke(record.id);
    const res = await initialize(hub.url, `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: 'invalid_token',
      error_description: `unknown or revoked token. ${OAUTH_HINT}`,
      how_to_authenticate: { ...HOW_TO, oauth: metadata },
    });
  });

  it('the hints are valid RFC 6750 error_descriptions: printable ASCII without " or \\', () => {
    expect(TOKEN_HINT).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
    expect(OAUTH_HINT).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  });
});

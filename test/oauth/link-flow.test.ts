/**
 * Linking an account against a real authorization server (oidc-provider, rotation and reuse
 * detection on), then calling the integration's tool through a real MCP client, and refreshing
 * an expired access token under 50 concurrent calls.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { Browser, hubConfirmation } from '../fakes/browser.js';
import type { OidcServer } from '../fakes/oidc.js';
import { textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, callbackOf, linkIn, useOidcHub } from './support.js';

describe('linking an account and calling its API', () => {
  const clock = manualClock(Date.now());
  const env = useOidcHub({ clock });
  let oidc: OidcServer;
  let hub: RunningHub;
  let client: FaceClient;
  beforeAll(() => {
    ({ oidc, hub, client } = env);
  });

  it('links through the provider over HTTP and the tool reaches the API with the linked token', async () => {
    const unlinked = await client.callTool(TOOL, {});
    expect(unlinked.isError).toBe(true);
    const link = linkIn(unlinked);
    expect(textOf(unlinked)).toContain('Link your Acme account');

    const browser = new Browser();
    const confirm = await browser.get(link);
    const html = await confirm.text();
    expect(confirm.status, html).toBe(200);
    expect(html).toContain('<title>Link Acme to alice? · Switchboard</title>');
    // Browsers check form-action on every redirect after the post, and a provider may send the
    // browser on to a sign-in origin of its own: the page sets none, and still frames and loads nothing.
    const csp = confirm.headers.get('content-security-policy');
    expect(csp).not.toContain('form-action');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const start = await browser.post(new URL('/oauth/acme/start', link).href, hubConfirmation(html)!);
    expect(start.status).toBe(303);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(oidc.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(callbackOf(hub.port));

    const done = await browser.get(await browser.authorize(authorize.href, { login: 'alice@acme' }));
    const landing = await done.text();
    expect(done.status, landing).toBe(200);
    expect(landing).toContain('Your Acme account is linked to the Switchboard user <strong>alice</strong>.');
    const c = await hub.hub.integrations.accounts.connections.find('default', 'alice', 'acme');
    expect(c?.state).toBe('active');
    expect(oidc.tokenRequests('authorization_code')).toBe(1);

    const r = await client.callTool(TOOL, {});
    expect(r.isError, textOf(r)).toBe(false);
    expect(r.structuredContent).toEqual({
      account: 'alice@acme',
      things: [
        { id: 1, name: 'anvil' },
        { id: 2, name: 'rocket skates' },
      ],
    });
    const linked = oidc.issued.find((t) => t.grantType === 'authorization_code');
    expect(oidc.apiCalls.at(-1)).toEqual({ path: '/api/things', status: 200, token: linked?.accessToken, account: 'alice@acme' });
  });

  it('refreshes an expired access token exactly once for 50 concurrent calls', async () => {
    const before = oidc.tokenRequests('refresh_token');
    const apiBefore = oidc.apiCalls.length;
    // The provider's access token lives an hour; past that, the hub must refresh before calling.
    clock.advance(3600_000 + 1);
    const results = await Promise.all(Array.from({ length: 50 }, () => client.callTool(TOOL, {})));
    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    const refreshed = oidc.issued.at(-1)!;
    expect(refreshed.grantType).toBe('refresh_token');
    const calls = oidc.apiCalls.slice(apiBefore);
    expect(calls).toHaveLength(50);
    expect(new Set(calls.map((a) => `${a.status} ${a.token === refreshed.accessToken}`))).toEqual(new Set(['200 true']));
  });

  it('refreshes once and retries when the API rejects a token the hub thought valid (401)', async () => {
    const current = oidc.issued.at(-1)!.accessToken;
    // The provider drops the token early (as after a password change); the hub still sees it valid.
    expect(await oidc.forgetAccessToken(current)).toBe(true);
    const before = oidc.tokenRequests('refresh_token');
    const apiBefore = oidc.apiCalls.length;
    const results = await Promise.all(Array.from({ length: 20 }, () => client.callTool(TOOL, {})));
    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    expect(oidc.tokenRequests('refresh_token') - before).toBe(1);
    const refreshed = oidc.issued.at(-1)!.accessToken;
    const calls = oidc.apiCalls.slice(apiBefore);
    // Each call: the stale token once (401), then the refreshed one; none retried twice.
    expect(calls.filter((c) => c.status === 401).every((c) => c.token === current)).toBe(true);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(20);
    expect(calls.filter((c) => c.status === 200).every((c) => c.token === refreshed)).toBe(true);
    expect(calls.length).toBeLessThanOrEqual(40);
  });

  it("answers with the API's 401 when the token is rejected and the token endpoint is down", async () => {
    const current = oidc.issued.at(-1)!.accessToken;
    expect(await oidc.forgetAccessToken(current)).toBe(true);
    oidc.tokenEndpointDown = true;
    const refreshes = oidc.tokenRequests('refresh_token');
    const r = await client.callTool(TOOL, {});
    oidc.tokenEndpointDown = false;
    expect(oidc.outageRejections()).toBe(3);
    // The provider's own answer, for the model to act on: not a transport error, not a retry loop.
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('Acme answered 401 Unauthorized to GET /things: {"error":"invalid_token"}');
    // The provider is back: the next call refreshes once and succeeds.
    const ok = await client.callTool(TOOL, {});
    expect(ok.isError, textOf(ok)).toBe(false);
    expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
  });
});

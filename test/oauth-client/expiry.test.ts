import { AuthorizationCode } from 'simple-oauth2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProviderClient, type ProviderFetch } from '../../src/providers/client.js';
import { oauthCredentials } from '../../src/providers/credentials.js';
import type { TokenManager } from '../../src/oauth/token-manager.js';
import { CLIENT, postForm } from '../sandbox/harness.js';
import { hubSide, linkThrough, startPeer, whoami, type HubSide, type Peer } from './peer.js';

/**
 * A provider that sends no `expires_in` (Salesforce sessions, some Slack tokens): the token's
 * life is unknown, so it is used until the API answers 401, then refreshed once and the request
 * retried once. The sandbox still expires its tokens after a minute of its clock.
 */
/** The provider client bound to one connection, as integration tools get it. */
function authorizedFetch(tokens: TokenManager, connectionId: string, apiBaseUrl: string): ProviderFetch {
  return createProviderClient({}).bind({
    label: new URL(apiBaseUrl).host,
    apiBaseUrl,
    credentials: oauthCredentials(tokens, connectionId),
    paceKey: connectionId,
  });
}

describe('a provider without expires_in', () => {
  let peer: Peer;
  let hub: HubSide;
  beforeEach(async () => {
    peer = await startPeer({ omitExpiresIn: true, accessTokenTtlSeconds: 60 });
    hub = hubSide(peer, peer.client());
  });
  afterEach(async () => {
    hub.close();
    await peer.close();
  });

  const api = (connectionId: string) => authorizedFetch(hub.tokens, connectionId, `${peer.issuer}/api`);

  it('simple-oauth2 alone calls such a token never expired, even when the API already refuses it', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const raw = new AuthorizationCode({ client: { id: CLIENT.id, secret: CLIENT.secret }, auth: { tokenHost: new URL(peer.issuer).origin } });
    peer.clock.advance(3600_000);
    expect((await whoami(peer, tokens.accessToken)).status).toBe(401);
    expect(raw.createToken({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'Bearer' }).expired()).toBe(false);
  });

  it('gives the token set no expiresAt and the connection no expiry', async () => {
    const tokens = await linkThrough(peer, peer.client());
    expect(tokens).not.toHaveProperty('expiresAt');
    expect((await hub.connect(tokens)).accessExpiresAt).toBeNull();
  });

  it('does not refresh ahead of time, however much time passes', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const c = await hub.connect(tokens);
    const before = peer.issued();
    peer.clock.advance(30 * 86_400_000);
    expect(await hub.tokens.accessToken(c.id)).toBe(tokens.accessToken);
    expect(peer.issued()).toEqual(before);
    expect(hub.store.get(c.id)).toMatchObject({ tokenVersion: 1, lastRefreshAt: null });
  });

  it('on a 401 refreshes exactly once and retries with the new token', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const c = await hub.connect(tokens);
    const fetchApi = api(c.id);
    expect((await fetchApi('/me')).status).toBe(200);
    const before = peer.issued();

    peer.clock.advance(61_000);
    const res = await fetchApi('/me');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ username: 'alice' });
    // One refresh at the provider: one new access token and (rotation) one new refresh token.
    expect(peer.issued()).toEqual({ access: before.access + 1, refresh: before.refresh + 1 });
    const stored = hub.store.tokens(hub.store.get(c.id)!);
    expect(stored.accessToken).not.toBe(tokens.accessToken);
    expect(stored.refreshToken).not.toBe(tokens.refreshToken);
    expect(stored).not.toHaveProperty('expiresAt');
    expect(await whoami(peer, tokens.accessToken)).toMatchObject({ status: 401 });
    expect((await whoami(peer, stored.accessToken)).status).toBe(200);

    // The next call uses the new token as it is: no further refresh.
    expect((await fetchApi('/tickets')).status).toBe(200);
    expect(peer.issued()).toEqual({ access: before.access + 1, refresh: before.refresh + 1 });
  });

  it('two calls that meet the same 401 share one refresh (a second would revoke the rotating grant)', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const c = await hub.connect(tokens);
    const before = peer.issued();
    peer.clock.advance(61_000);
    const [a, b] = await Promise.all([api(c.id)('/me'), api(c.id)('/tickets')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(peer.issued()).toEqual({ access: before.access + 1, refresh: before.refresh + 1 });
    expect(hub.store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: 2 });
  });

  it('when the refresh token is dead too, marks the connection for re-linking after one attempt', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const c = await hub.connect(tokens);
    // The user revoked the app at the provider.
    expect((await postForm(`${peer.issuer}/oauth/revoke`, { token: tokens.refreshToken! })).status).toBe(200);
    const before = peer.issued();
    await expect(api(c.id)('/me')).rejects.toMatchObject({ name: 'HubError', code: 'connection_needs_reauth' });
    expect(peer.issued()).toEqual(before);
    expect(hub.store.get(c.id)).toMatchObject({ state: 'needs_reauth', reason: expect.stringContaining('invalid_grant') });
    // Nothing further goes to the provider for a connection that needs re-linking.
    await expect(api(c.id)('/me')).rejects.toMatchObject({ code: 'connection_needs_reauth' });
  });

  // The provider client must not cancel the 401's body before it knows there is a new token to retry with.
  it('when the token endpoint cannot be reached, hands back the API 401 as it came, body and all', async () => {
    const tokens = await linkThrough(peer, peer.client());
    // Same provider, but its token endpoint is down (nothing listens on port 1).
    const down = hubSide(peer, peer.client({ tokenUrl: 'http://127.0.0.1:1/oauth/token', revokeUrl: undefined }));
    try {
      const c = await down.connect(tokens);
      peer.clock.advance(61_000);
      const res = await authorizedFetch(down.tokens, c.id, `${peer.issuer}/api`)('/me');
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'invalid_token', message: 'The access token expired' } });
      expect(down.store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: 1, refreshFailures: 1 });
    } finally {
      down.close();
    }
  });

  it('never sends the token outside the API base URL', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const c = await hub.connect(tokens);
    const fetchApi = api(c.id);
    await expect(fetchApi('http://127.0.0.2:9/me')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(fetchApi('../oauth/token')).rejects.toMatchObject({ code: 'forbidden' });
    // WHATWG URL parsing reads %2e%2e as a dot-segment, so the encoded escape is caught as well.
    await expect(fetchApi('/%2e%2e/oauth/token')).rejects.toMatchObject({ code: 'forbidden' });
  });
});

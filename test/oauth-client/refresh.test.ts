import { AuthorizationCode } from 'simple-oauth2';
import { afterEach, describe, expect, it } from 'vitest';
import { OAuthGrantError } from '../../src/oauth/client.js';
import { CLIENT, T0 } from '../sandbox/harness.js';
import { hubSide, linkThrough, startPeer, whoami, type Peer } from './peer.js';

/**
 * simple-oauth2 5.1.0 replaces the whole token with the refresh response, so a provider that
 * does not rotate (RFC 6749 §6: "MAY issue a new refresh token") leaves it with none.
 */
describe('OAuthClient.refresh: a refresh response without refresh_token keeps the old one', () => {
  let peer: Peer;
  afterEach(() => peer.close());

  it('the peer really omits it: simple-oauth2 alone ends up with no refresh token', async () => {
    peer = await startPeer({ omitRefreshTokenOnRefresh: true });
    const first = await linkThrough(peer, peer.client());
    const u = new URL(peer.issuer);
    const raw = new AuthorizationCode({
      client: { id: CLIENT.id, secret: CLIENT.secret },
      auth: { tokenHost: u.origin, tokenPath: `${u.pathname}/oauth/token` },
    });
    const next = await raw.createToken({ access_token: first.accessToken, refresh_token: first.refreshToken, token_type: 'Bearer' }).refresh();
    // The defect the wrapper exists for; if this starts failing, the library fixed it.
    expect(next.token['refresh_token']).toBeUndefined();
    expect(next.token['access_token']).toMatch(/^sbx_at_/);
  });

  it('keeps the old refresh token, and a second refresh with it works', async () => {
    peer = await startPeer({ omitRefreshTokenOnRefresh: true, accessTokenTtlSeconds: 600 });
    const client = peer.client();
    const first = await linkThrough(peer, client);
    peer.clock.advance(30_000);
    const second = await client.refresh(first);
    expect(second).toEqual({
      accessToken: expect.stringMatching(/^sbx_at_/),
      refreshToken: first.refreshToken,
      tokenType: 'Bearer',
      scope: 'read write',
      expiresAt: T0 + 30_000 + 600_000,
      obtainedAt: T0 + 30_000,
    });
    expect(second.accessToken).not.toBe(first.accessToken);
    peer.clock.advance(30_000);
    const third = await client.refresh(second);
    expect(third.refreshToken).toBe(first.refreshToken);
    expect(third.expiresAt).toBe(T0 + 60_000 + 600_000);
    expect(await whoami(peer, third.accessToken)).toMatchObject({ status: 200, body: { username: 'alice' } });
    // One refresh token for the life of the grant; an access token per exchange.
    expect(peer.issued()).toEqual({ access: 3, refresh: 1 });
  });

  it('through the token manager: the stored connection keeps its refresh token across expiry-driven refreshes', async () => {
    peer = await startPeer({ omitRefreshTokenOnRefresh: true, accessTokenTtlSeconds: 600 });
    const client = peer.client();
    const hub = hubSide(peer, client);
    try {
      const first = await linkThrough(peer, client);
      const c = await hub.connect(first);
      expect(await hub.tokens.accessToken(c.id)).toBe(first.accessToken);
      // Past the expiry margin: the manager refreshes before handing the token out.
      peer.clock.advance(600_000);
      const a2 = await hub.tokens.accessToken(c.id);
      expect(a2).not.toBe(first.accessToken);
      expect(hub.store.tokens(hub.store.get(c.id)!)).toMatchObject({ accessToken: a2, refreshToken: first.refreshToken });
      peer.clock.advance(600_000);
      const a3 = await hub.tokens.accessToken(c.id);
      expect(a3).not.toBe(a2);
      expect(hub.store.get(c.id)).toMatchObject({ state: 'active', tokenVersion: 3, accessExpiresAt: T0 + 1_200_000 + 600_000 });
      expect(hub.store.tokens(hub.store.get(c.id)!).refreshToken).toBe(first.refreshToken);
      expect((await whoami(peer, a3)).status).toBe(200);
      expect(peer.issued()).toEqual({ access: 3, refresh: 1 });
    } finally {
      hub.close();
    }
  });

  it('takes a rotated refresh token when the provider sends one; the old one is then dead', async () => {
    peer = await startPeer();
    const client = peer.client();
    const first = await linkThrough(peer, client);
    const second = await client.refresh(first);
    expect(second.refreshToken).toMatch(/^sbx_rt_/);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await whoami(peer, second.accessToken)).status).toBe(200);
    // The sandbox detects reuse (RFC 9700 §4.14.2): presenting the rotated one ends the grant,
    // which is why keeping the old token is only right when the response carries none.
    const reuse = await client.refresh(first).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(reuse).toBeInstanceOf(OAuthGrantError);
    expect(reuse).toMatchObject({ error: 'invalid_grant' });
    expect((await whoami(peer, second.accessToken)).status).toBe(401);
  });

  it('refuses to refresh a token set that never had a refresh token, without calling the provider', async () => {
    peer = await startPeer();
    const before = peer.issued();
    // Not an invalid_grant: the provider was not asked, so no answer of its is reported.
    await expect(peer.client().refresh({ accessToken: 'sbx_at_x', tokenType: 'Bearer' })).rejects.toMatchObject({
      name: 'NoRefreshTokenError',
      code: 'connection_needs_reauth',
    });
    expect(peer.issued()).toEqual(before);
  });
});

import { AuthorizationCode } from 'simple-oauth2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OAuthGrantError } from '../../src/oauth/client.js';
import { CLIENT, OTHER, postForm } from '../sandbox/harness.js';
import { linkThrough, startPeer, whoami, type Peer } from './peer.js';

/** RFC 7009 §2.2: success is HTTP 200 and "the content of the response body is ignored by the client". */
describe('OAuthClient.revoke against an empty-200 revocation endpoint', () => {
  let peer: Peer;
  beforeEach(async () => {
    peer = await startPeer();
  });
  afterEach(() => peer.close());

  it('the peer answers 200 with an empty, non-JSON body, which simple-oauth2 alone reports as a 406', async () => {
    const tokens = await linkThrough(peer, peer.client());
    const direct = await postForm(`${peer.issuer}/oauth/revoke`, { token: 'sbx_at_unknown' });
    expect(direct).toMatchObject({ status: 200, body: {} });
    const u = new URL(peer.issuer);
    const raw = new AuthorizationCode({
      client: { id: CLIENT.id, secret: CLIENT.secret },
      auth: { tokenHost: u.origin, tokenPath: `${u.pathname}/oauth/token`, revokePath: `${u.pathname}/oauth/revoke` },
    });
    // The defect the wrapper exists for; if this starts failing, the library fixed it.
    await expect(raw.createToken({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken }).revoke('refresh_token')).rejects.toMatchObject({
      output: { statusCode: 406 },
    });
  });

  it('succeeds, and neither the access token nor the refresh token works afterwards', async () => {
    const client = peer.client();
    const tokens = await linkThrough(peer, client);
    expect((await whoami(peer, tokens.accessToken)).status).toBe(200);
    await expect(client.revoke(tokens)).resolves.toBe(true);
    expect(await whoami(peer, tokens.accessToken)).toEqual({
      status: 401,
      body: { error: { code: 'invalid_token', message: 'The access token was revoked' } },
    });
    await expect(client.refresh(tokens)).rejects.toMatchObject({ name: 'OAuthGrantError', error: 'invalid_grant' });
  });

  it('revokes the access token when there is no refresh token', async () => {
    const client = peer.client();
    const tokens = await linkThrough(peer, client);
    const { refreshToken: _none, ...accessOnly } = tokens;
    await expect(client.revoke(accessOnly)).resolves.toBe(true);
    expect((await whoami(peer, tokens.accessToken)).status).toBe(401);
  });

  it('is idempotent: revoking again is still a 200 from the provider and success here', async () => {
    const client = peer.client();
    const tokens = await linkThrough(peer, client);
    await client.revoke(tokens);
    await expect(client.revoke(tokens)).resolves.toBe(true);
  });

  it("reports a refusal (another client's token) as a grant error with the provider's code", async () => {
    const tokens = await linkThrough(peer, peer.client());
    const other = peer.client({ clientId: OTHER.id, clientSecret: OTHER.secret });
    const err = await other.revoke(tokens).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OAuthGrantError);
    expect(err).toMatchObject({ error: 'invalid_request', status: 400 });
    expect((await whoami(peer, tokens.accessToken)).status).toBe(200);
  });

  it('returns false without a revocation endpoint', async () => {
    const tokens = await linkThrough(peer, peer.client());
    await expect(peer.client({ revokeUrl: undefined }).revoke(tokens)).resolves.toBe(false);
    expect((await whoami(peer, tokens.accessToken)).status).toBe(200);
  });
});

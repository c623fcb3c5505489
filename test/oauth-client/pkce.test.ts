import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OAuthGrantError } from '../../src/oauth/client.js';
import { pkcePair, s256 } from '../../src/oauth/pkce.js';
import { CLIENT, T0 } from '../sandbox/harness.js';
import { REDIRECT_URI, consent, startPeer, whoami, type Peer } from './peer.js';

describe('OAuthClient: authorization code with PKCE against the sandbox', () => {
  let peer: Peer;
  beforeEach(async () => {
    peer = await startPeer({ accessTokenTtlSeconds: 900 });
  });
  afterEach(() => peer.close());

  it('puts an S256 challenge, the state, the scopes and the client on the authorize URL', () => {
    const { challenge } = pkcePair();
    const url = new URL(peer.client().authorizeUrl({ redirectUri: REDIRECT_URI, state: 'state-1', codeChallenge: challenge }));
    expect(`${url.origin}${url.pathname}`).toBe(peer.endpoints.authorizeUrl);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: CLIENT.id,
      redirect_uri: REDIRECT_URI,
      scope: 'read write',
      state: 'state-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
  });

  it('leaves scope out when the integration asks for none, and passes extra parameters through', () => {
    const url = new URL(
      peer
        .client({ scopes: [], extraAuthorizeParams: { prompt: 'consent' } })
        .authorizeUrl({ redirectUri: REDIRECT_URI, state: 's', codeChallenge: pkcePair().challenge }),
    );
    expect(url.searchParams.has('scope')).toBe(false);
    expect(url.searchParams.get('prompt')).toBe('consent');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('makes verifiers RFC 7636 allows and challenges that are their S256', () => {
    const { verifier, challenge } = pkcePair();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge).toBe(s256(verifier));
    // RFC 7636 appendix B: the known-answer pair.
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(pkcePair().verifier).not.toBe(verifier);
  });

  it('redeems the code with the right verifier; expiry comes from the injected clock', async () => {
    const client = peer.client();
    const { verifier, challenge } = pkcePair();
    const back = await consent(peer, client.authorizeUrl({ redirectUri: REDIRECT_URI, state: 'abc', codeChallenge: challenge }), 'alice');
    expect(back.state).toBe('abc');
    expect(back.iss).toBe(peer.issuer);
    const tokens = await client.exchangeCode({ code: back.code, redirectUri: REDIRECT_URI, codeVerifier: verifier });
    expect(tokens).toEqual({
      accessToken: expect.stringMatching(/^sbx_at_/),
      refreshToken: expect.stringMatching(/^sbx_rt_/),
      tokenType: 'Bearer',
      scope: 'read write',
      // The peer's clock stands still at T0: the wrapper's expiry is T0 + expires_in, not wall time.
      expiresAt: T0 + 900_000,
      obtainedAt: T0,
    });
    expect(await whoami(peer, tokens.accessToken)).toMatchObject({ status: 200, body: { username: 'alice', scopes: ['read', 'write'] } });
  });

  it('is refused with invalid_grant for a wrong verifier, and the code stays good for the right one', async () => {
    const client = peer.client();
    const { verifier, challenge } = pkcePair();
    const { code } = await consent(peer, client.authorizeUrl({ redirectUri: REDIRECT_URI, state: 's', codeChallenge: challenge }), 'bob');
    const wrong = await client.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: pkcePair().verifier }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(wrong).toBeInstanceOf(OAuthGrantError);
    expect(wrong).toMatchObject({ error: 'invalid_grant', status: 400, description: 'code_verifier does not match code_challenge' });
    expect(peer.issued()).toEqual({ access: 0, refresh: 0 });
    const tokens = await client.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: verifier });
    expect(await whoami(peer, tokens.accessToken)).toMatchObject({ status: 200, body: { username: 'bob' } });
  });

  it('authenticates in the body when the integration says so (client_secret_post)', async () => {
    const client = peer.client({ tokenAuth: 'body' });
    const { verifier, challenge } = pkcePair();
    const { code } = await consent(peer, client.authorizeUrl({ redirectUri: REDIRECT_URI, state: 's', codeChallenge: challenge }), 'carol');
    const tokens = await client.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: verifier });
    expect((await whoami(peer, tokens.accessToken)).status).toBe(200);
  });

  it('reports a wrong client secret as a grant error naming invalid_client', async () => {
    const client = peer.client({ clientSecret: 'not-the-secret' });
    const { verifier, challenge } = pkcePair();
    const { code } = await consent(peer, client.authorizeUrl({ redirectUri: REDIRECT_URI, state: 's', codeChallenge: challenge }), 'dave');
    await expect(client.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: verifier })).rejects.toMatchObject({
      name: 'OAuthGrantError',
      error: 'invalid_client',
      status: 401,
    });
  });
});

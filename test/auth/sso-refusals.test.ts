/**
 * What single sign-on refuses, each with the reason the page shows: an answer from another
 * issuer (RFC 9207), metadata naming another issuer, an ID token for another client, expired, or
 * of another sign-in (nonce), a spent or foreign state, an email the provider did not verify, and
 * a subject that cannot be a hub user name. The identity provider is a fetch handed to `Sso` that
 * answers discovery and the token endpoint as a provider would; the store and vault are a hub's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteAsRecords } from '../../src/auth/records.js';
import { Sso, SsoError } from '../../src/auth/sso.js';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const ISSUER = 'https://login.example.com';
const clock = manualClock(Date.now());
let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub?.stop());

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Idp {
  metadataIssuer?: string;
  claims?: (nonce: string) => Record<string, unknown>;
  issParam?: boolean;
  /** What UserInfo answers (it is listed in the metadata only when given). */
  userinfo?: Record<string, unknown>;
}

/** An Sso against a provider answering as `idp` says; `tokenRequests` records what the hub sent. */
function sso(idp: Idp = {}, config: Partial<{ userFrom: 'sub' | 'email' }> = {}) {
  let nonce = '';
  const tokenRequests: URLSearchParams[] = [];
  const fetch = (async (input: string | URL, init?: RequestInit) => {
    const url = String(input);
    if (url === `${ISSUER}/.well-known/openid-configuration`)
      return Response.json({
        issuer: idp.metadataIssuer ?? ISSUER,
        authorization_endpoint: `${ISSUER}/authorize`,
        token_endpoint: `${ISSUER}/token`,
        ...(idp.userinfo ? { userinfo_endpoint: `${ISSUER}/userinfo` } : {}),
        authorization_response_iss_parameter_supported: idp.issParam ?? true,
      });
    if (url === `${ISSUER}/token`) {
      tokenRequests.push(new URLSearchParams(String(init?.body)));
      const claims = idp.claims?.(nonce) ?? { iss: ISSUER, sub: 'alice', aud: 'hub', exp: Math.floor(clock.now() / 1000) + 300, nonce };
      return Response.json({ token_type: 'Bearer', access_token: 'at', id_token: `${b64({ alg: 'RS256' })}.${b64(claims)}.sig` });
    }
    if (url === `${ISSUER}/userinfo` && idp.userinfo && new Headers(init?.headers).get('authorization') === 'Bearer at') return Response.json(idp.userinfo);
    return new Response('not found', { status: 404 });
  }) as typeof globalThis.fetch;
  const s = new Sso({
    config: { issuer: ISSUER, clientId: 'hub', clientSecret: 's3cret', userFrom: config.userFrom ?? 'sub', tenant: 'default' },
    hubUrl: 'http://127.0.0.1:1',
    records: new SqliteAsRecords(hub.hub.db),
    vault: hub.hub.vault,
    clock,
    fetch,
  });
  const start = async (uid: string) => {
    const url = new URL(await s.begin(uid));
    nonce = url.searchParams.get('nonce')!;
    return { state: url.searchParams.get('state')!, url };
  };
  return { s, start, tokenRequests };
}

const refused = (p: Promise<unknown>, why: RegExp) => expect(p).rejects.toSatisfy((e) => e instanceof SsoError && why.test(e.message));

describe('single sign-on refusals', () => {
  it('a good answer names the user; the code is redeemed with the PKCE verifier at the callback URI', async () => {
    const { s, start, tokenRequests } = sso();
    const { state, url } = await start('uid-1');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(await s.interactionOf(state)).toBe('uid-1');
    expect(await s.finish('uid-1', { code: 'c', state, iss: ISSUER })).toEqual({ tenant: 'default', user: 'alice' });
    expect(Object.fromEntries(tokenRequests[0]!)).toMatchObject({
      grant_type: 'authorization_code',
      code: 'c',
      redirect_uri: 'http://127.0.0.1:1/sign-in/sso/callback',
      code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    // Spent: the same answer again, and the state is no longer anyone's.
    await refused(s.finish('uid-1', { code: 'c', state, iss: ISSUER }), /already completed/);
    expect(await s.interactionOf(state)).toBeUndefined();
  });

  it('an answer for another sign-in, from another issuer, or without iss where the provider sends it', async () => {
    const { s, start } = sso();
    const a = await start('uid-a');
    await refused(s.finish('uid-b', { code: 'c', state: a.state, iss: ISSUER }), /belongs to another sign-in/);
    const b = await start('uid-b');
    await refused(s.finish('uid-b', { code: 'c', state: b.state, iss: 'https://evil.example' }), /did not come from the configured identity provider/);
    const c = await start('uid-c');
    await refused(s.finish('uid-c', { code: 'c', state: c.state }), /did not come from the configured identity provider/);
  });

  it('metadata that names another issuer: no sign-in starts', async () => {
    await refused(sso({ metadataIssuer: 'https://other.example' }).start('uid'), /says its issuer is https:\/\/other\.example/);
  });

  it.each([
    ['another audience', (n: string) => ({ iss: ISSUER, sub: 'alice', aud: 'other', exp: 9e9, nonce: n }), /not issued to this hub/],
    ['several audiences without azp', (n: string) => ({ iss: ISSUER, sub: 'alice', aud: ['hub', 'other'], exp: 9e9, nonce: n }), /not issued to this hub/],
    ['another issuer', (n: string) => ({ iss: 'https://evil.example', sub: 'alice', aud: 'hub', exp: 9e9, nonce: n }), /not issued to this hub/],
    ['expired', (n: string) => ({ iss: ISSUER, sub: 'alice', aud: 'hub', exp: Math.floor(clock.now() / 1000) - 1, nonce: n }), /has expired/],
    ['another nonce', () => ({ iss: ISSUER, sub: 'alice', aud: 'hub', exp: 9e9, nonce: 'other' }), /belongs to another sign-in/],
    ['a subject that is no hub name', (n: string) => ({ iss: ISSUER, sub: 'auth0|123', aud: 'hub', exp: 9e9, nonce: n }), /cannot be a hub user name/],
  ])('an ID token with %s', async (_what, claims, why) => {
    const { s, start } = sso({ claims });
    const { state } = await start('uid');
    await refused(s.finish('uid', { code: 'c', state, iss: ISSUER }), why);
  });

  it('userFrom email: a verified email names the user; an unverified one is refused', async () => {
    const ok = sso(
      { claims: (n) => ({ iss: ISSUER, sub: 'x1', aud: 'hub', exp: 9e9, nonce: n, email: 'alice@acme.example', email_verified: true }) },
      { userFrom: 'email' },
    );
    const a = await ok.start('uid');
    expect(a.url.searchParams.get('scope')).toBe('openid email');
    expect(await ok.s.finish('uid', { code: 'c', state: a.state, iss: ISSUER })).toEqual({ tenant: 'default', user: 'alice@acme.example' });
    const no = sso(
      { claims: (n) => ({ iss: ISSUER, sub: 'x1', aud: 'hub', exp: 9e9, nonce: n, email: 'alice@acme.example', email_verified: false }) },
      { userFrom: 'email' },
    );
    const b = await no.start('uid');
    await refused(no.s.finish('uid', { code: 'c', state: b.state, iss: ISSUER }), /did not vouch for an email/);
  });

  it('userFrom email without an email in the ID token: UserInfo is asked, and must describe the same subject', async () => {
    const noEmail = (n: string) => ({ iss: ISSUER, sub: 'x1', aud: 'hub', exp: 9e9, nonce: n });
    const ok = sso({ claims: noEmail, userinfo: { sub: 'x1', email: 'Alice@ACME.example', email_verified: true } }, { userFrom: 'email' });
    const a = await ok.start('uid');
    expect(await ok.s.finish('uid', { code: 'c', state: a.state, iss: ISSUER })).toEqual({ tenant: 'default', user: 'alice@acme.example' });
    const other = sso({ claims: noEmail, userinfo: { sub: 'x2', email: 'mallory@acme.example', email_verified: true } }, { userFrom: 'email' });
    const b = await other.start('uid');
    await refused(other.s.finish('uid', { code: 'c', state: b.state, iss: ISSUER }), /UserInfo describes another subject/);
    const none = sso({ claims: noEmail }, { userFrom: 'email' });
    const c = await none.start('uid');
    await refused(none.s.finish('uid', { code: 'c', state: c.state, iss: ISSUER }), /did not vouch for an email/);
  });

  it('a state past its ten minutes', async () => {
    const { s, start } = sso();
    const { state } = await start('uid');
    clock.set(clock.now() + 10 * 60_000 + 1);
    await refused(s.finish('uid', { code: 'c', state, iss: ISSUER }), /has expired; start again/);
    expect(await s.interactionOf(state)).toBeUndefined();
  });
});

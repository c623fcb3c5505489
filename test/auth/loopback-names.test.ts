/**
 * A loopback hub is one resource under each of its loopback names (127.0.0.1, localhost): a
 * client that reached it as localhost is pointed at the metadata under that name by every
 * challenge, the 403 that asks for another scope as much as the 401 (RFC 9728 §3.3); and a code
 * exchange naming another of its names is served for the granted one, while one naming another
 * resource is refused without spending the code (RFC 8707 §2.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, initialize, pkce, REDIRECT, register, signIn, tokenRequest } from './support.js';

const clock = manualClock(Date.now());
let hub: RunningHub;
let base: string;
let local: string;
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  local = `http://localhost:${hub.port}`;
});
afterAll(() => hub?.stop());

/** A code granted for `scope` (and `resource`, by default the hub's under 127.0.0.1), ready to be exchanged. */
async function codeFor(scope: string, resource = `${base}/mcp`): Promise<{ clientId: string; code: string; verifier: string }> {
  const reg = await register(base, `loopback names ${scope}`);
  const clientId = String(reg.body['client_id']);
  const p = pkce();
  const { callback } = await signIn(authorizeUrl(base, clientId, p, { scope, resource }), hub.token);
  return { clientId, code: callback.searchParams.get('code')!, verifier: p.verifier };
}

const metadataOf = (res: Response) => /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];

describe('challenges at /mcp reached as localhost', () => {
  it('the 403 insufficient_scope names the metadata under localhost, whose resource is the URL the client connected to, as the 401 does', async () => {
    const { clientId, code, verifier } = await codeFor('openid');
    const exchanged = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    expect(exchanged.status).toBe(200);
    const unsigned = await initialize(`${local}/mcp`, undefined);
    expect(unsigned.status).toBe(401);
    expect(metadataOf(unsigned)).toBe(`${local}/.well-known/oauth-protected-resource/mcp`);
    await unsigned.body?.cancel();

    const lacking = await initialize(`${local}/mcp`, String(exchanged.body['access_token']));
    expect(lacking.status).toBe(403);
    expect(lacking.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", /);
    expect(metadataOf(lacking)).toBe(`${local}/.well-known/oauth-protected-resource/mcp`);
    await lacking.body?.cancel();
    const metadata = (await (await fetch(metadataOf(lacking)!)).json()) as Record<string, unknown>;
    expect(metadata['resource']).toBe(`${local}/mcp`);

    // Reached as 127.0.0.1, the same token is pointed at the metadata under that name.
    const atBase = await initialize(`${base}/mcp`, String(exchanged.body['access_token']));
    expect(atBase.status).toBe(403);
    expect(metadataOf(atBase)).toBe(`${base}/.well-known/oauth-protected-resource/mcp`);
    await atBase.body?.cancel();
  });

  it('the 401 body’s way to sign in names the metadata under localhost too', async () => {
    const res = await initialize(`${local}/mcp`, 'not-a-token');
    expect(res.status).toBe(401);
    const body = (await res.json()) as { how_to_authenticate?: Record<string, string> };
    expect(body.how_to_authenticate?.['oauth']).toBe(`${local}/.well-known/oauth-protected-resource/mcp`);
  });
});

describe('a code exchange naming the resource', () => {
  const exchange = (c: { clientId: string; code: string; verifier: string }, resource?: string) =>
    tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: c.clientId,
      code: c.code,
      redirect_uri: REDIRECT,
      code_verifier: c.verifier,
      ...(resource === undefined ? {} : { resource }),
    });

  /** The grant lives on: its refresh token rotates, and the new access token works under both names. */
  async function grantLives(clientId: string, refreshToken: unknown): Promise<void> {
    const refreshed = await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: String(refreshToken) });
    expect(refreshed.status).toBe(200);
    for (const at of [base, local]) {
      const res = await initialize(`${at}/mcp`, String(refreshed.body['access_token']));
      expect([at, res.status]).toEqual([at, 200]);
      await res.body?.cancel();
    }
  }

  it.each([
    ['granted at 127.0.0.1, exchanged naming localhost', () => `${base}/mcp`, () => `${local}/mcp`],
    ['granted at localhost, exchanged naming 127.0.0.1', () => `${local}/mcp`, () => `${base}/mcp`],
  ])('%s: served for the granted name, and the grant lives on', async (_what, granted, named) => {
    const c = await codeFor('mcp', granted());
    const tokens = await exchange(c, named());
    expect([tokens.status, tokens.body['error']]).toEqual([200, undefined]);
    for (const at of [base, local]) {
      const res = await initialize(`${at}/mcp`, String(tokens.body['access_token']));
      expect([at, res.status]).toEqual([at, 200]);
      await res.body?.cancel();
    }
    await grantLives(c.clientId, tokens.body['refresh_token']);
  });

  it('naming another resource is refused with invalid_target without spending the code: the retry gets its tokens', async () => {
    const c = await codeFor('mcp');
    for (const resource of ['https://evil.example/mcp', `http://localhost:${hub.port + 1}/mcp`, 'not a url']) {
      const refused = await exchange(c, resource);
      expect([resource, refused.status, refused.body['error']]).toEqual([resource, 400, 'invalid_target']);
    }
    const tokens = await exchange(c);
    expect(tokens.status).toBe(200);
    await grantLives(c.clientId, tokens.body['refresh_token']);
  });
});

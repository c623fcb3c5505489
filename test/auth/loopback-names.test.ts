/**
 * A loopback hub is one resource under each of its loopback names (127.0.0.1, localhost): a
 * client that reached it as localhost is pointed at the metadata under that name by every
 * challenge, the 403 that asks for another scope as much as the 401 (RFC 9728 §3.3).
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

/** A code granted for `scope` at 127.0.0.1, ready to be exchanged. */
async function codeFor(scope: string): Promise<{ clientId: string; code: string; verifier: string }> {
  const reg = await register(base, `loopback names ${scope}`);
  const clientId = String(reg.body['client_id']);
  const p = pkce();
  const { callback } = await signIn(authorizeUrl(base, clientId, p, { scope }), hub.token);
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

/**
 * The authorization server's metadata says how a client authenticates at its revocation endpoint
 * (RFC 8414 §2, where a missing list means `client_secret_basic` alone), and what it says is what
 * the endpoint takes: a public client revokes with its client_id alone (`none`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { initialize, obtainTokens, revoke } from './support.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

describe('revocation endpoint metadata', () => {
  it('both metadata documents list the revocation endpoint’s auth methods, the token endpoint’s own, none among them; a public client revokes with none', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = (await (await fetch(`${base}${path}`)).json()) as Record<string, unknown>;
      expect(meta['revocation_endpoint'], path).toBe(`${base}/revoke`);
      expect(meta['revocation_endpoint_auth_methods_supported'], path).toEqual(meta['token_endpoint_auth_methods_supported']);
      expect(meta['revocation_endpoint_auth_methods_supported'], path).toContain('none');
      expect(meta['revocation_endpoint_auth_signing_alg_values_supported'], path).toEqual(meta['token_endpoint_auth_signing_alg_values_supported']);
    }
    const { clientId, tokens } = await obtainTokens(base, hub.token);
    expect(await revoke(base, clientId, tokens.access_token)).toBe(200);
    const res = await initialize(hub.url, tokens.access_token);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });
});

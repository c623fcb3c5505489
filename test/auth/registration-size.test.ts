/**
 * Dynamic Client Registration is open, so what one registration may store is bounded: clients
 * register one or two redirect URIs, and a registration naming thousands (each kept for 30 days
 * and read on every authorization request of that client) is refused with invalid_redirect_uri,
 * as is a redirect URI longer than any browser sends. Registrations within the bounds still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REDIRECT_URI_LENGTH, MAX_REDIRECT_URIS } from '../../src/auth/registration-policy.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub({});
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

async function registerWith(redirectUris: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Bounded', token_endpoint_auth_method: 'none', redirect_uris: redirectUris }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ports = (n: number) => Array.from({ length: n }, (_, i) => `http://127.0.0.1:${1000 + i}/callback`);

describe('registration size', () => {
  it(`takes up to ${MAX_REDIRECT_URIS} redirect URIs and refuses more`, async () => {
    expect((await registerWith(ports(MAX_REDIRECT_URIS))).status).toBe(201);
    for (const n of [MAX_REDIRECT_URIS + 1, 1500]) {
      const r = await registerWith(ports(n));
      expect([n, r.status, r.body['error']]).toEqual([n, 400, 'invalid_redirect_uri']);
      expect(String(r.body['error_description'])).toContain(`at most ${MAX_REDIRECT_URIS}`);
    }
  });

  it(`refuses a redirect URI over ${MAX_REDIRECT_URI_LENGTH} characters`, async () => {
    const tooLong = `https://app.example/cb?${'a'.repeat(MAX_REDIRECT_URI_LENGTH)}`;
    const r = await registerWith([tooLong]);
    expect([r.status, r.body['error']]).toEqual([400, 'invalid_redirect_uri']);
    const fits = `https://app.example/cb?${'a'.repeat(MAX_REDIRECT_URI_LENGTH - 'https://app.example/cb?'.length)}`;
    expect((await registerWith([fits])).status).toBe(201);
  });
});

/**
 * Dynamic Client Registration is open but bounded: a few registrations per address and window,
 * and a registration nobody uses is forgotten. What the server stores holds no token in the clear,
 * and its keys are made once and kept in the vault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IDLE_MS } from '../../src/auth/adapter.js';
import { loadAsKeys } from '../../src/auth/keys.js';
import { manualClock } from '../../src/clock.js';
import { HubSecrets } from '../../src/store/hub-secrets.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, MemoryOAuthClient, obtainTokens, pkce, register } from './support.js';

const clock = manualClock(Date.now());
let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

describe('client registration (RFC 7591)', () => {
  it('allows 10 registrations an hour from one address, then 429 with Retry-After until the hour is over', async () => {
    // A remote caller, as a reverse proxy on this machine names it (the hub's own machine gets 100).
    const remote = { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' };
    const registerRemote = async (name: string) => {
      const res = await fetch(`${base}/register`, {
        method: 'POST',
        headers: remote,
        body: JSON.stringify({ ...new MemoryOAuthClient(name).clientMetadata }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) expect((await registerRemote(`client ${i}`)).status).toBe(201);
    const res = await fetch(`${base}/register`, { method: 'POST', headers: remote, body: '{}' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3600');
    expect(await res.json()).toMatchObject({ error: 'too_many_requests' });
    // Another address is not held back by this one's registrations.
    expect((await register(base, 'from this machine')).status).toBe(201);
    clock.set(t0 + 3_599_000);
    expect((await registerRemote('late')).status).toBe(429);
    clock.set(t0 + 3_600_000);
    const again = await registerRemote('after the hour');
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ client_name: 'after the hour', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:9/callback'] });
    // No registration access token: registrations are not managed afterwards.
    expect(again.body).not.toHaveProperty('registration_access_token');
  });

  it('forgets a registration unused for 30 days; one that is used lives on', async () => {
    clock.advance(3_600_000); // a fresh window for this test's registrations
    const idle = String((await register(base, 'idle')).body['client_id']);
    const used = String((await register(base, 'used')).body['client_id']);
    const opens = async (clientId: string) => {
      const res = await fetch(authorizeUrl(base, clientId, pkce()), { redirect: 'manual' });
      await res.body?.cancel();
      // A known client goes on to the sign-in page; an unknown one gets the server's error page.
      return res.status === 303 && (res.headers.get('location') ?? '').startsWith('/sign-in/');
    };
    clock.advance(CLIENT_IDLE_MS - 86_400_000);
    expect(await opens(used)).toBe(true);
    clock.advance(2 * 86_400_000);
    expect(await opens(idle)).toBe(false);
    expect(await opens(used)).toBe(true);
  });
});

describe('what the authorization server keeps', () => {
  it('stores no token in the clear: keys are hashes and payloads vault envelopes', async () => {
    clock.advance(3_600_000);
    const alice = (await hub.hub.tokens.create({ user: 'alice' })).token;
    const { tokens } = await obtainTokens(base, alice);
    const rows = hub.hub.db.prepare('SELECT model, key, payload FROM oauth_as_records').all() as Array<{ model: string; key: string; payload: string }>;
    expect(rows.map((r) => r.model)).toEqual(expect.arrayContaining(['Client', 'Grant', 'Session', 'AccessToken', 'RefreshToken', 'AuthorizationCode']));
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(tokens.access_token);
    expect(dump).not.toContain(tokens.refresh_token!);
    expect(dump).not.toContain('default/alice');
    for (const r of rows) expect(r.payload).toMatch(/^[a-z0-9]+\.[^.]+\.[A-Za-z0-9+/=]+$/);
  });

  it('makes its keys once: another handle on the store reads the same ones', async () => {
    const a = await loadAsKeys(new HubSecrets(hub.hub.db, hub.hub.vault, clock));
    const b = await loadAsKeys(new HubSecrets(hub.hub.db, hub.hub.vault, clock));
    expect(b.signing).toEqual(a.signing);
    expect(b.cookies).toEqual(a.cookies);
    const jwks = (await (await fetch(`${base}/jwks`)).json()) as { keys: Array<{ kid: string; x: string }> };
    expect(jwks.keys).toEqual([expect.objectContaining({ kid: a.signing.kid, x: a.signing.x })]);
    // Sealed in the store: the private scalar is not there in any encoding.
    const stored = JSON.stringify(hub.hub.db.prepare('SELECT * FROM hub_secrets').all());
    expect(stored).not.toContain(a.signing.d);
    expect(stored).not.toContain(Buffer.from(a.signing.d, 'base64url').toString('hex'));
  });
});

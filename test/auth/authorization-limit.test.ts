/**
 * Each request to /authorize naming a registered client stores a pending sign-in, and anyone may
 * send one (registration is open; a client id is no secret). A caller is allowed 60 a minute
 * (an IPv6 caller counted by its /64): past that it is answered 429 with Retry-After and a page
 * saying so, and nothing more is stored; another caller is not held back, and the caller goes on
 * once its minute is over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { asRecordCount, authorizeUrl, pkce, register } from './support.js';

const clock = manualClock(Date.now());
let hub: RunningHub;
let base: string;
let clientId: string;
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
  clientId = String((await register(base)).body['client_id']);
});
afterAll(() => hub?.stop());

/** Opens an authorization URL as a browser would, from `address` as a proxy on this machine forwards it. */
async function authorizeFrom(address: string, method = 'GET'): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await fetch(authorizeUrl(base, clientId, pkce()), { method, redirect: 'manual', headers: { 'x-forwarded-for': address } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

function pendingSignIns(): number {
  return asRecordCount(hub.dataDir, 'Interaction');
}

describe('authorization requests per caller', () => {
  it('allows 60 a minute, then 429 with Retry-After storing nothing; others go on; the caller again after the minute', async () => {
    const t0 = clock.now();
    for (let i = 0; i < 60; i++) expect((await authorizeFrom('203.0.113.50')).status).toBe(303);
    const before = pendingSignIns();
    const refused = await authorizeFrom('203.0.113.50');
    expect([refused.status, refused.retryAfter]).toEqual([429, '60']);
    expect(refused.body).toContain('Too many sign-in requests');
    expect(refused.body).toContain('too_many_requests');
    for (let i = 0; i < 20; i++) expect((await authorizeFrom('203.0.113.50')).status).toBe(429);
    expect(pendingSignIns()).toBe(before);
    expect((await authorizeFrom('203.0.113.51')).status).toBe(303);
    expect((await authorizeFrom('2001:db8:5:6::1')).status).toBe(303);
    clock.set(t0 + 60_000);
    expect((await authorizeFrom('203.0.113.50')).status).toBe(303);
  });

  it('counts HEAD as GET: the library answers it as GET and stores a pending sign-in for each', async () => {
    for (let i = 0; i < 60; i++) expect((await authorizeFrom('203.0.113.70', 'HEAD')).status).toBe(303);
    const before = pendingSignIns();
    for (let i = 0; i < 20; i++) expect((await authorizeFrom('203.0.113.70', 'HEAD')).status).toBe(429);
    expect((await authorizeFrom('203.0.113.70')).status).toBe(429);
    expect(pendingSignIns()).toBe(before);
  });
});

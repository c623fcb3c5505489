/**
 * The registration limit (10 an hour per client address) holds for requests sent at once: each
 * takes its slot when admitted, so a burst of 30 in parallel makes 10 clients and the rest get
 * 429. A request that makes no registration gives its slot back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { MemoryOAuthClient } from './support.js';

const clock = manualClock(Date.now());
let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub({}, { clock });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

/** A registration from a remote caller, as a reverse proxy on this machine names it (the hub's own machine gets 100). */
async function registerFrom(address: string, body: unknown): Promise<number> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

const valid = (i: number) => new MemoryOAuthClient(`burst ${i}`).clientMetadata;

describe('registrations sent at once', () => {
  it('30 in parallel from one address make 10 clients; the rest, and the next one alone, get 429', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => registerFrom('203.0.113.21', valid(i))));
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(await registerFrom('203.0.113.21', valid(99))).toBe(429);
    // Another address has its own 10.
    expect(await registerFrom('203.0.113.22', valid(0))).toBe(201);
  });

  it('malformed registrations give their slots back: after 5 refused ones, 10 in parallel are still made', async () => {
    const refused = await Promise.all(Array.from({ length: 5 }, () => registerFrom('203.0.113.23', { redirect_uris: ['http://attacker.example/cb'] })));
    expect(refused).toEqual([400, 400, 400, 400, 400]);
    const made = await Promise.all(Array.from({ length: 10 }, (_, i) => registerFrom('203.0.113.23', valid(i))));
    expect(made).toEqual(Array.from({ length: 10 }, () => 201));
    expect(await registerFrom('203.0.113.23', valid(10))).toBe(429);
    // The window passes on the hub's clock.
    clock.advance(3_600_000);
    expect(await registerFrom('203.0.113.23', valid(11))).toBe(201);
  });
});

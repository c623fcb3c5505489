/**
 * The registration limit counts a caller, not an address: over IPv6 one host holds a whole /64
 * and may send each registration from another address in it. Counted per address, 10 an hour
 * was no limit at all; counted by the /64 prefix, the 11th is refused whatever its last 64 bits,
 * while a caller in another /64 goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countedAs } from '../../src/auth/registration-limit.js';
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

/** A registration as a reverse proxy on this machine forwards it for `address`. */
async function registerFrom(address: string): Promise<number> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(new MemoryOAuthClient(`from ${address}`).clientMetadata),
  });
  await res.body?.cancel();
  return res.status;
}

describe('registration limit over IPv6', () => {
  it('counts the addresses of one /64 as one caller; another /64 is not held back', async () => {
    for (let i = 1; i <= 10; i++) expect(await registerFrom(`2001:db8:aa:bb::${i.toString(16)}`)).toBe(201);
    expect(await registerFrom('2001:db8:aa:bb:ffff:1234:5678:9abc')).toBe(429);
    expect(await registerFrom('2001:0db8:00aa:00bb:0:0:0:77')).toBe(429);
    expect(await registerFrom('2001:db8:aa:bc::1')).toBe(201);
  });

  it('counts an IPv4 address, mapped or not, as itself', () => {
    expect(countedAs('203.0.113.5')).toBe('203.0.113.5');
    expect(countedAs('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(countedAs('2001:db8:aa:bb::1')).toBe('2001:db8:aa:bb::/64');
    expect(countedAs('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(countedAs('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(countedAs('64:ff9b:1:2:3:4:192.0.2.1')).toBe('64:ff9b:1:2::/64');
    expect(countedAs('unknown')).toBe('unknown');
  });
});

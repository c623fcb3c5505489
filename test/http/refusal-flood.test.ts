import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogger } from '../helpers/log.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * The public routes take junk from anyone on the network: 30 refused webhook deliveries, 30
 * made-up linking callbacks and 30 junk token requests leave 20 lines of each in the log (a
 * minute's share per code), not 30. Each is still answered as before.
 */
describe('refusals at the public routes under a flood', () => {
  let hub: RunningHub;
  const lines: string[] = [];
  let origin: string;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} } }, { log: capturedLogger(lines, 'info') });
    origin = new URL(hub.url).origin;
  });
  afterAll(() => hub?.stop());

  const logged = (msg: string) => lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => l.msg === msg).length;

  it('log 20 lines of a kind a minute, and answer every request', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const unsigned = await fetch(`${origin}/webhooks/sandbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const callback = await fetch(`${origin}/oauth/callback?state=junk-${i}&code=x`);
      const token = await fetch(`${origin}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'nobody', refresh_token: `junk-${i}` }),
      });
      statuses.push(unsigned.status, callback.status, token.status);
      await Promise.all([unsigned.body?.cancel(), callback.body?.cancel(), token.body?.cancel()]);
    }
    expect(new Set(statuses.filter((_, i) => i % 3 === 0))).toEqual(new Set([401]));
    expect(statuses.filter((_, i) => i % 3 === 1).every((s) => s >= 400 && s < 500)).toBe(true);
    expect(statuses.filter((_, i) => i % 3 === 2).every((s) => s >= 400 && s < 500)).toBe(true);
    expect(logged('webhook delivery refused')).toBe(20);
    expect(logged('linking failed')).toBe(20);
    expect(logged('authorization server refused a request')).toBe(20);
  });
});

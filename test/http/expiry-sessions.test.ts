import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ping, rawSessionWithStream } from '../helpers/raw-mcp.js';

/** A token that expires ends its open sessions and streams as a revoked one does; others carry on. */
describe('an expiring token', () => {
  const clock = manualClock(Date.now());
  let hub: RunningHub;

  beforeAll(async () => {
    hub = await startHub({}, { clock });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('closes its session and stream once it expires, and the session then answers 401', async () => {
    const short = (await hub.hub.tokens.create({ user: 'alice', expiresInMs: 60_000 })).token;
    const lasting = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const a = await rawSessionWithStream(hub.url, short);
    const b = await rawSessionWithStream(hub.url, lasting);
    let bEnded = false;
    void b.ended.then(() => {
      bEnded = true;
    });
    expect((await ping(hub.url, short, a.sessionId)).status).toBe(200);
    clock.advance(61_000);
    // The hub looks up the tokens it holds open every second; the stream ends on the next look.
    expect(await a.ended).toBe('ended');
    expect(await ping(hub.url, short, a.sessionId)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(bEnded).toBe(false);
    expect((await ping(hub.url, lasting, b.sessionId)).status).toBe(200);
  });
});

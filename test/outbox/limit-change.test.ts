/**
 * Issue 9's acceptance, through MCP: writes from 10 concurrent real MCP clients (both SDK
 * generations, both handshakes) go through the hub's outbox to a local API that is a token bucket of
 * 20 requests/s with a burst of 5 and answers 429 beyond it. Midway the API lowers its limit to
 * 10/s and says so only in its `X-RateLimit-Limit` / `-Remaining` / `-Reset` headers. The hub must
 * follow within one window (the API's is 1 s): at most one 429 after the change, none past the
 * window, and every write applied exactly once. Real time, because the API is a real server; the
 * change is made by the API itself when its Nth request is admitted, not by a timer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notesIntegration, startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { CLIENT_KINDS, connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const RATE = 20;
const LOWERED = 10;
const BURST = 5;
const WRITES = 100;
/** The API lowers its limit as it admits this many-th request: ~1.75 s in at 20/s. */
const CHANGE_AT = 40;
const WINDOW_MS = 1000;

describe('a provider lowering its limit mid-run, announced in its rate-limit headers', () => {
  let api: BucketApi;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  let changedAt = 0;

  beforeAll(async () => {
    api = await startBucketApi({
      perSecond: RATE,
      burst: BURST,
      onAdmitted: (stats) => {
        if (stats.ok !== CHANGE_AT) return;
        changedAt = Date.now();
        api.setLimit(LOWERED, BURST);
      },
    });
    hub = await startHub({
      integrations: {
        // The API's own limits, as its documentation states them before the change.
        notes: notesIntegration(api, { rateLimit: { perApp: { perSecond: RATE, burst: BURST } } }),
      },
      outbox: { waitMs: 60_000 },
    });
    // One user per client, as ten people's agents would be; every client kind in turn.
    for (let i = 0; i < 10; i++) {
      const { token } = await hub.hub.tokens.create({ user: `writer${i}` });
      clients.push(await connectClient(CLIENT_KINDS[i % CLIENT_KINDS.length]!, { transport: 'http', url: hub.url, token }));
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    await api?.close();
  });

  it('follows within one window: at most one 429 after the change, none after the window, every write applied once', async () => {
    expect(new Set(clients.map((c) => c.kind))).toEqual(new Set(CLIENT_KINDS));
    const results = await Promise.all(Array.from({ length: WRITES }, (_, i) => clients[i % clients.length]!.callTool('notes__create', { text: `w${i}` })));

    expect(changedAt).toBeGreaterThan(0);
    expect(results.filter((r) => r.isError)).toEqual([]);
    // Each answer is the API's own for that write: its key, applied once, none replayed or lost.
    const keys = results.map((r) => (r.structuredContent as { key: string }).key);
    expect(new Set(keys).size).toBe(WRITES);
    expect(keys.filter((k) => api.appliedByKey.get(k) !== 1)).toEqual([]);
    expect(api.appliedByKey.size).toBe(WRITES);
    expect(api.stats.applied).toBe(WRITES);

    const refusedAfter = api.stats.tooManyAt.filter((t) => t >= changedAt);
    expect(refusedAfter.length).toBeLessThanOrEqual(1);
    expect(refusedAfter.filter((t) => t > changedAt + WINDOW_MS)).toEqual([]);
    // Before the change the hub holds to the declared limit. Known gap (issue 9, as in
    // pacing.test.ts): declared equal to the API's own bucket, a loaded machine has delayed the first
    // burst's requests past the next ones and drawn one 429 in the first half second; the outbox
    // resends it under the same key (applied once, checked above).
    expect(api.stats.tooManyAt.filter((t) => t < changedAt).length).toBeLessThanOrEqual(1);
    // The API did enforce the lower limit on the rest of the run (so no 429 is not a run that ended first).
    const after = WRITES - CHANGE_AT;
    expect(Date.now() - changedAt).toBeGreaterThanOrEqual(((after - BURST) / LOWERED) * 1000);
  }, 60_000);
});

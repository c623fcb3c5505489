/**
 * Two hub processes on one SQLite data dir without Redis (a `stdio` a desktop client starts beside
 * a `serve`, or two `serve`) keep to an API's declared rate together: their pacers take from the
 * buckets in the SQLite file as well as their own, so the API never answers 429. The API here
 * announces nothing until its 429 (no X-RateLimit-* headers), so only the declared bucket paces:
 * two processes each pacing alone would send twice its rate.
 *
 * Hub A runs in this process, B is the real CLI (`switchboard serve`, built) on A's data dir; alice
 * and bob each call through both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BucketApi, notesIntegration, startBucketApi } from '../fixtures/bucket-api.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { type RunningHub, startHub } from '../helpers/hub.js';
import { type ServeBeside, serveBeside } from './serve-beside.js';

const PER_CALLER = 15;

describe('two hub processes on one data dir, one API rate', () => {
  let api: BucketApi;
  let a: RunningHub;
  let b: ServeBeside | undefined;
  const callers: { who: string; client: FaceClient }[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 20, burst: 5, rateHeaders: false, echo: true });
    // One API key for every user: the API's bucket is the app's.
    const config = {
      integrations: { notes: notesIntegration(api, { rateLimit: { perApp: { perSecond: 20, burst: 5 } } }) },
      outbox: { waitMs: 30_000 },
    };
    a = await startHub(config);
    b = await serveBeside(a, config, 'two-processes-pacing');
    const alice = (await a.hub.tokens.create({ user: 'alice' })).token;
    const bob = (await a.hub.tokens.create({ user: 'bob' })).token;
    for (const [url, hub] of [
      [a.url, 'A'],
      [b.url, 'B'],
    ] as const) {
      for (const [token, user] of [
        [alice, 'alice'],
        [bob, 'bob'],
      ] as const) {
        callers.push({ who: `${user}@${hub}`, client: await connectClient('v2-auto', { transport: 'http', url, token }) });
      }
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(callers.map((c) => c.client.close().catch(() => {})));
    await b?.stop();
    await a?.stop();
    await api?.close();
  });

  it('sends every write once and draws no 429, whichever process sends it', { timeout: 60_000 }, async () => {
    // Jobs A's own worker ended: its events hear those (B's are read back from the store).
    const sentByA = new Set<string>();
    const unsubscribe = a.hub.outbox.events.subscribe((j) => {
      if (j.state === 'done') sentByA.add(j.id);
    });
    const calls = callers.flatMap(({ who, client }) =>
      Array.from({ length: PER_CALLER }, (_, i) => client.callTool('notes__create', { text: `${who}-${i}` }).then((r) => ({ who, i, r }))),
    );
    const results = await Promise.all(calls);
    for (const { who, i, r } of results) {
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(textOf(r)).toContain(`"text": "${who}-${i}"`);
    }
    // Two pacers each keeping the rate alone would send 40/s into a 20/s bucket: some 20 of these
    // 60 writes refused. Shared, none is, but for one a loaded machine can still draw (CI saw one
    // in a full run: a stalled event loop sends what it was granted late, bunched with on-time
    // ones, past the two tokens held back for that; bucket.ts capOf). The outbox retried it.
    expect(api.stats.tooMany).toBeLessThanOrEqual(1);
    expect(api.stats.applied).toBe(callers.length * PER_CALLER);
    expect([...api.appliedByKey.values()].every((n) => n === 1)).toBe(true);
    unsubscribe();
    // Both processes sent some: the rate held across them, not because one did all the work.
    expect(sentByA.size).toBeGreaterThan(0);
    expect(sentByA.size).toBeLessThan(api.stats.applied);
  });
});

/**
 * Issue 13, acceptance 3: 400 writes from clients on all three replicas (alice and bob side by
 * side, a 2026 and a 2025 client each per replica) against an API that allows 20/s with a burst
 * of 5 and answers 429 past that, as providers do (test/fixtures/bucket-api.ts). The replicas
 * share one bucket in Redis, so none is refused beyond what scheduling jitter on two cores
 * causes; the outbox's idempotency key makes each write land once; and the run takes the time the bucket dictates, not three times less (three private
 * buckets) or more (a pacer that stalls).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BucketApi, notesIntegration, startBucketApi } from '../fixtures/bucket-api.js';
import { type ClientKind, connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { type Cluster, describeCluster, inParallel, startCluster } from '../replicas/cluster.js';

const RATE = { perSecond: 20, burst: 5 };
const WRITES = 400;
/** 2 % of the writes: seen 0–6 on a loaded two-core machine. */
const MAX_JITTER_REFUSALS = 8;

describeCluster('three replicas, 400 writes against a 20/s API', () => {
  let api: BucketApi;
  let cluster: Cluster;
  const clients: Array<{ user: string; client: FaceClient }> = [];

  beforeAll(async () => {
    api = await startBucketApi({ ...RATE, trace: true, echo: true });
    cluster = await startCluster({
      config: {
        integrations: {
          // Declared as the provider documents it: the API's own limit, shared by every replica.
          notes: notesIntegration(api, { rateLimit: { perApp: RATE } }),
        },
        // Longer than any write waits for its token here (80 callers at 20/s: about 4 s), so every
        // caller gets its result, also when another replica's worker sent its job.
        outbox: { waitMs: 30_000 },
      },
    });
    const tokens = { alice: await cluster.token('alice'), bob: await cluster.token('bob') };
    const kinds: ClientKind[] = ['v2-auto', 'v2-legacy'];
    for (const r of cluster.replicas)
      for (const [user, token] of Object.entries(tokens))
        for (const kind of kinds) clients.push({ user, client: await connectClient(kind, { transport: 'http', url: `${r.base}/mcp`, token }) });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
    await cluster?.close();
    await api?.close();
  });

  it('no more 429s than scheduling jitter explains, each write applied once, in the time the bucket allows', { timeout: 90_000 }, async () => {
    const calls = Array.from({ length: WRITES }, (_, i) => {
      const { user, client } = clients[i % clients.length]!;
      const text = `${user}-${i}`;
      return async () => ({ text, user, result: await client.callTool('notes__create', { text }, {}) });
    });
    const started = performance.now();
    const done = await inParallel(calls, 80);
    const seconds = (performance.now() - started) / 1000;

    expect(done.filter((d) => d.result.isError).map((d) => textOf(d.result))).toEqual([]);
    const [left] = await cluster.query<{ n: string }>("SELECT count(*) AS n FROM outbox_jobs WHERE state <> 'done'");
    expect(Number(left!.n)).toBe(0);
    // The shared bucket grants one write per 1/20 s, but on two saturated cores (three hubs,
    // PostgreSQL, Redis and 80 callers) writes granted 50 ms apart can reach the API together, past
    // the headroom the pacer keeps. That is scheduling, not pacing: a refused write is retried and
    // lands once (checked below). The zero-429 figure is measured by `npm run bench:queue`; here
    // a handful is tolerated, while a bucket per replica (three times the rate) refuses hundreds.
    expect(api.stats.tooMany, 'writes the API refused with 429').toBeLessThanOrEqual(MAX_JITTER_REFUSALS);
    expect(api.stats.applied).toBe(WRITES);
    expect([...api.appliedByKey.values()].every((n) => n === 1)).toBe(true);
    // Each caller got its own write back (the API echoes the body), alice's never bob's.
    expect(done.filter((d) => !textOf(d.result).includes(`"text": "${d.text}"`)).map((d) => `${d.text}: ${textOf(d.result)}`)).toEqual([]);
    const texts = api.arrivals.map((a) => (JSON.parse(a.body) as { text: string }).text).sort();
    expect(texts).toEqual(done.map((d) => d.text).sort());

    // The burst leaves at once, then one write per 1/20 s.
    const ideal = (WRITES - RATE.burst) / RATE.perSecond;
    const sent = (api.arrivals.at(-1)!.start - api.arrivals[0]!.start) / 1000;
    // When the API refused, in ms after the first write reached it: at the start is a burst spent twice.
    const firstAt = Date.now() - (performance.now() - api.arrivals[0]!.start);
    const refusedAt = api.stats.tooManyAt.map((t) => Math.round(t - firstAt));
    console.log(
      `400 writes over 3 replicas at 20/s burst 5: API saw them over ${sent.toFixed(2)} s, clients over ${seconds.toFixed(2)} s; ideal ${ideal.toFixed(2)} s; ratio ${(sent / ideal).toFixed(3)}; 429 at [${refusedAt.join(', ')}] ms`,
    );
    // Faster than the bucket is impossible without a 429 (checked above); the 5 % target is
    // bench:store's figure — on two shared cores this bound only catches a pacer that stalls.
    expect(sent).toBeGreaterThanOrEqual(ideal * 0.95);
    expect(sent).toBeLessThan(ideal * 1.5);
  });
});

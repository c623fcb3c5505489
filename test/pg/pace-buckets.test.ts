/**
 * Rate-limit buckets in PostgreSQL for replicas without Redis: two pools on one database play two
 * replicas, each with its own in-process pacer and the gate in front (src/outbox/shared-gate.ts).
 * The same figures as the SQLite file's (test/outbox/shared-buckets.test.ts) and Redis's
 * (test/pg/redis-pacer.test.ts).
 */
import { afterEach, expect, it } from 'vitest';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { createBucketPacer } from '../../src/outbox/pacing/index.js';
import { PgBuckets } from '../../src/outbox/pg-buckets.js';
import { localPacer, type PacerWithState } from '../../src/outbox/redis/shapes.js';
import { withSharedBuckets } from '../../src/outbox/shared-gate.js';
import type { PgStore } from '../../src/store/pg/pool.js';
import { fewestGrants, grantsIn, worstExcess } from '../helpers/grants.js';
import { capturedLogger } from '../helpers/log.js';
import { describePg, type MigratedDatabase, migratedWithReplica } from '../helpers/postgres.js';

const clock = { now: () => Date.now() };
const never = new AbortController().signal;

describePg('PgBuckets: replicas without Redis share one bucket', () => {
  let pg: MigratedDatabase;
  let replica: PgStore;
  const pacers: PacerWithState[] = [];
  /** What the gates logged: a step that failed would pass the request unpaced, and say so here. */
  const logged: string[] = [];

  migratedWithReplica((p, r) => {
    pg = p;
    replica = r;
  });
  afterEach(async () => {
    await Promise.all(pacers.splice(0).map((p) => p.stop()));
    expect(logged).toEqual([]);
    logged.splice(0);
    await pg.reset();
  });

  function replicas(limits: Record<string, RateLimitConfig>): [PacerWithState, PacerWithState] {
    return [pg.store, replica].map((store) => {
      const local = localPacer(createBucketPacer({ limits: (i) => limits[i], clock }));
      const p = withSharedBuckets(local, new PgBuckets(store), { limits: (i) => limits[i], clock, log: capturedLogger(logged) });
      pacers.push(p);
      return p;
    }) as [PacerWithState, PacerWithState];
  }

  it('two replicas grant at most 5 + 20·t tokens of a 20/s burst-5 bucket, and not far fewer', async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const windowMs = 1_500;
    const t = windowMs / 1000;
    const grants = await grantsIn(a, b, 'api:c1', windowMs);
    expect(grants.length).toBeLessThanOrEqual(5 + 20 * t);
    expect(grants.length).toBeGreaterThanOrEqual(fewestGrants(20, windowMs));
    expect(worstExcess(grants, 20)).toBeLessThanOrEqual(5);
    expect(grants.some((g) => g.by === 'a') && grants.some((g) => g.by === 'b')).toBe(true);
  });

  it("a Retry-After one replica saw holds the other's requests until it passes", async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    await a.acquire('api:c1', never);
    const started = Date.now();
    await a.observe?.('api:c1', { status: 429, headers: new Headers({ 'retry-after': '1' }) });
    await b.acquire('api:c1', never);
    // B had never heard of it, and waited out the second A was told to (less the clocks' rounding), then a token's refill.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("two tenants' connections keep their own buckets while the app bucket is one", async () => {
    const [a, b] = replicas({ api: { perConnection: { perSecond: 20, burst: 5 }, perApp: { perSecond: 20, burst: 2 } } });
    // The app bucket holds 1: alice's request empties it for bob on the other replica.
    await a.acquire('api:alice', never);
    const leaving = new AbortController();
    const bob = b.acquire('api:bob', leaving.signal);
    const outcome = await Promise.race([bob.then(() => 'granted'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(outcome).toBe('waiting');
    leaving.abort(new Error('bob left'));
    await expect(bob).rejects.toThrow('bob left');
    const rows = await pg.store.query('SELECT key, tk FROM pace_buckets ORDER BY key', [], (r) => ({ key: String(r.key), tk: Number(r.tk) }));
    // Alice's connection spent one of its 3, bob's none (a take is both buckets or neither), the app its 1.
    expect(rows.map((r) => [(JSON.parse(r.key) as string[]).at(-1), Math.floor(r.tk)])).toEqual([
      ['api', 0],
      ['alice', 2],
      ['bob', 3],
    ]);
  });
});

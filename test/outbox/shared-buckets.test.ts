/**
 * Rate-limit buckets in the SQLite file, shared by the processes on one data dir: each "process"
 * here is a connection of its own to one file (as a `stdio` and a `serve` have), with its own
 * in-process pacer, and the gate in front of both (src/outbox/shared-gate.ts). The same figures
 * as the Redis pacer's replicas test (test/pg/redis-pacer.test.ts), without Redis.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Clock, manualClock } from '../../src/clock.js';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { createBucketPacer } from '../../src/outbox/pacing/index.js';
import type { BucketRef } from '../../src/outbox/pacing/shared.js';
import { localPacer, type PacerWithState } from '../../src/outbox/redis/shapes.js';
import { PacingTooLong } from '../../src/providers/pacing.js';
import { withSharedBuckets } from '../../src/outbox/shared-gate.js';
import { SqliteBuckets } from '../../src/outbox/sqlite-buckets.js';
import { openDb, type Db } from '../../src/store/db.js';
import { fewestGrants, grantsIn, worstExcess } from '../helpers/grants.js';
import { tmpDir } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

const ok = (headers: Record<string, string> = {}) => ({ status: 200, headers: new Headers(headers) });
const bucket = (key: string, perSecond = 20, burst = 5): BucketRef => ({ key, spec: { perSecond, burst } });

describe('SqliteBuckets: one bucket, two connections to one file', () => {
  let dir: ReturnType<typeof tmpDir>;
  const dbs: Db[] = [];
  const clock = manualClock();
  const open = (c: Clock = clock, graceMs?: number) => {
    const db = openDb({ file: join(dir.path, 'switchboard.db'), clock: c });
    dbs.push(db);
    return new SqliteBuckets(db, c, graceMs === undefined ? {} : { graceMs });
  };

  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
    dir.remove();
  });

  it('a burst of 5 holds 3 tokens between both; refill starts at the first answer and is shared', async () => {
    const [a, b] = [open(), open()];
    const ref = [bucket('c1')];
    expect(await a.take(ref)).toEqual({ granted: true });
    expect(await b.take(ref)).toEqual({ granted: true });
    expect(await a.take(ref)).toEqual({ granted: true });
    // Empty for both: one token at 20/s is 50 ms away.
    expect(await b.take(ref)).toEqual({ granted: false, waitMs: 50 });
    clock.advance(200);
    // Nothing accrues before an answer is heard (the provider's bucket may not have started yet).
    expect((await a.take(ref)).granted).toBe(false);
    await b.observe(ref);
    clock.advance(100);
    expect(await a.take(ref)).toEqual({ granted: true });
    expect(await b.take(ref)).toEqual({ granted: true });
    expect(await a.take(ref)).toEqual({ granted: false, waitMs: 50 });
    // A token granted and not used goes back, for the other too.
    await a.refund(ref);
    expect(await b.take(ref)).toEqual({ granted: true });
  });

  it("a Retry-After seen by one holds the other's takes until it passes", async () => {
    const [a, b] = [open(), open()];
    const ref = [bucket('c1')];
    await a.observe(ref, { pauseMs: 2_000 });
    // The pause, then one token's refill from empty.
    expect(await b.take(ref)).toEqual({ granted: false, waitMs: 2_050 });
    clock.advance(2_000);
    expect(await b.take(ref)).toEqual({ granted: false, waitMs: 50 });
    clock.advance(49);
    expect((await b.take(ref)).granted).toBe(false);
    clock.advance(1);
    expect(await b.take(ref)).toEqual({ granted: true });
    expect((await a.state(ref))[0]!.pausedUntil).toBe(clock.now() - 2_050 + 2_000);
  });

  it('X-RateLimit-Limit from one scales the bucket the other takes from; Remaining caps what is at hand', async () => {
    const [a, b] = [open(), open()];
    const ref = [bucket('c1', 20, 10)];
    await a.observe(ref, { limit: 100 });
    await a.observe(ref, { limit: 50, atMost: 1 });
    const [s] = await b.state(ref);
    expect(s).toMatchObject({ perSecond: 10, capacity: 3, tokens: 1 });
    expect(await b.take(ref)).toEqual({ granted: true });
    expect(await b.take(ref)).toEqual({ granted: false, waitMs: 100 });
  });

  it('a connection bucket and its app bucket are taken together or not at all; tenants keep their own', async () => {
    const [a, b] = [open(), open()];
    const app = bucket('app', 20, 2);
    const alice = [bucket('alice'), app];
    const bob = [bucket('bob'), app];
    // The app bucket holds 1 (a burst of 2 keeps 1 back): alice's take empties it for bob too.
    expect(await a.take(alice)).toEqual({ granted: true });
    expect((await b.take(bob)).granted).toBe(false);
    // Bob's own bucket lost nothing to the refused take.
    expect((await b.state([bucket('bob')]))[0]!.tokens).toBe(3);
  });

  it('a changed declaration starts again from it; a bucket nobody answered refills after the grace period', async () => {
    const [a, b] = [open(clock, 1_000), open(clock, 1_000)];
    for (let i = 0; i < 3; i++) await a.take([bucket('c1')]);
    clock.advance(999);
    expect((await b.take([bucket('c1')])).granted).toBe(false);
    clock.advance(1);
    // The grace has passed: accrual runs from now.
    expect((await b.take([bucket('c1')])).granted).toBe(false);
    clock.advance(50);
    expect((await b.take([bucket('c1')])).granted).toBe(true);
    const [s] = await a.state([bucket('c1', 5, 3)]);
    expect(s).toMatchObject({ perSecond: 5, capacity: 2 });
  });

  it('a clock set back does not stall the bucket until it catches up', async () => {
    const early = manualClock(Date.UTC(2026, 0, 1));
    const late = manualClock(Date.UTC(2026, 0, 1, 1));
    const [a, b] = [open(late), open(early)];
    const ref = [bucket('c1')];
    await a.observe(ref);
    for (let i = 0; i < 3; i++) await a.take(ref);
    expect((await b.take(ref)).granted).toBe(false);
    early.advance(50);
    expect(await b.take(ref)).toEqual({ granted: true });
  });

  it('forgets a bucket untouched for its time to live', async () => {
    const a = open();
    await a.take([bucket('old')]);
    clock.advance(3_600_000 + 60_001);
    await a.take([bucket('new')]);
    const keys = dbs[0]!.prepare('SELECT key FROM pace_buckets ORDER BY key').pluck().all();
    expect(keys).toEqual(['new']);
  });
});

describe('the shared gate: two processes, each with its own pacer', () => {
  let dir: ReturnType<typeof tmpDir>;
  const dbs: Db[] = [];
  const pacers: PacerWithState[] = [];
  /** What the gates logged: a step that failed would pass the request unpaced, and say so here. */
  const logged: string[] = [];

  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(async () => {
    await Promise.all(pacers.splice(0).map((p) => p.stop()));
    expect(logged).toEqual([]);
    logged.splice(0);
    for (const db of dbs.splice(0)) db.close();
    dir.remove();
  });

  function processes(limits: Record<string, RateLimitConfig>, shared = true): [PacerWithState, PacerWithState] {
    const make = () => {
      const clock = { now: () => Date.now() };
      const db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
      dbs.push(db);
      const local = localPacer(createBucketPacer({ limits: (i) => limits[i], clock }));
      const p = withSharedBuckets(local, shared ? new SqliteBuckets(db, clock) : undefined, { limits: (i) => limits[i], clock, log: capturedLogger(logged) });
      pacers.push(p);
      return p;
    };
    return [make(), make()];
  }

  it('together grant at most 5 + 20·t of a 20/s burst-5 bucket, and not far fewer; alone each would grant twice that', async () => {
    const limits = { api: { perConnection: { perSecond: 20, burst: 5 } } };
    const windowMs = 1_500;
    const t = windowMs / 1000;
    const [a, b] = processes(limits);
    const together = await grantsIn(a, b, 'api:c1', windowMs);
    expect(together.length).toBeLessThanOrEqual(5 + 20 * t);
    expect(together.length).toBeGreaterThanOrEqual(fewestGrants(20, windowMs));
    expect(worstExcess(together, 20)).toBeLessThanOrEqual(5);
    expect(together.some((g) => g.by === 'a') && together.some((g) => g.by === 'b')).toBe(true);
    // Without the shared buckets (each process alone on the file), the pair sends about twice the rate.
    const [c, d] = processes(limits, false);
    const apart = await grantsIn(c, d, 'api:c1', windowMs);
    expect(apart.length).toBeGreaterThan(5 + 20 * t);
  });

  it('a Retry-After one process saw holds the other; an abort while waiting rejects at once with its reason', async () => {
    const [a, b] = processes({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const never = new AbortController().signal;
    await a.acquire('api:c1', never);
    const answered = Date.now();
    await a.observe?.('api:c1', { status: 429, headers: new Headers({ 'retry-after': '30' }) });
    // Each process's state is the shared bucket's: B shows the pause only A was told of.
    const paused = (await b.state('api:c1'))?.connection?.pausedUntil ?? 0;
    expect(paused).toBeGreaterThanOrEqual(answered + 29_000);
    const leaving = new AbortController();
    const waiting = b.acquire('api:c1', leaving.signal);
    await new Promise((r) => setTimeout(r, 100));
    leaving.abort(new Error('the caller left'));
    await expect(waiting).rejects.toThrow('the caller left');
  });

  it('a call that may wait only so long is refused at once, naming the wait, by a pause only the other process heard', async () => {
    const [a, b] = processes({ api: { perConnection: { perSecond: 20, burst: 5 } } });
    const never = new AbortController().signal;
    await a.acquire('api:c1', never);
    await a.observe?.('api:c1', { status: 429, headers: new Headers({ 'retry-after': '120' }) });
    const refused = await b.acquire('api:c1', never, 2_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(PacingTooLong);
    // The wait the shared bucket named (not "no token came within 2 s" after waiting them out).
    expect((refused as PacingTooLong).waitMs).toBeGreaterThan(100_000);
    // The pause stays for the next caller.
    expect((await b.state('api:c1'))?.connection?.pausedUntil ?? 0).toBeGreaterThan(Date.now() + 100_000);
  });

  it('an integration without limits is not paced and touches no row', async () => {
    const [a] = processes({});
    await a.acquire('free:c1', new AbortController().signal);
    a.observe?.('free:c1', ok());
    expect(dbs[0]!.prepare('SELECT count(*) FROM pace_buckets').pluck().get()).toBe(0);
  });
});

/**
 * Issue 9's promise end to end: "the per-app bucket serves connections in turn, so one user's burst
 * cannot starve the others". Two connections' writes go through the real outbox worker on a SQLite
 * file, the hub's pacer (in-process buckets, then the buckets shared in that file) and the provider
 * client, to an API on loopback that is one app-wide token bucket answering X-RateLimit-* headers.
 * The order is read at the API, in requests, not milliseconds. The clock is the system's: the API's
 * bucket and the hub's must run on the same time (the API is a real server, timed by its own clock).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { createBucketPacer } from '../../src/outbox/pacing/index.js';
import { localPacer, type PacerWithState } from '../../src/outbox/redis/shapes.js';
import { withSharedBuckets } from '../../src/outbox/shared-gate.js';
import { SqliteBuckets } from '../../src/outbox/sqlite-buckets.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { createProviderClient } from '../../src/providers/client.js';
import { noCredentials } from '../../src/providers/credentials.js';
import { openDb, type Db } from '../../src/store/db.js';
import { startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { eventually, tmpDir } from '../helpers/hub.js';

const BURST = 40;
const limitsAt = (perSecond: number): RateLimitConfig => ({ perConnection: { perSecond, burst: 5 }, perApp: { perSecond, burst: 5 } });

describe('two connections through the outbox, the shared pacer and a rate-limited API', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let api: BucketApi | undefined;
  let pacer: PacerWithState | undefined;
  let worker: OutboxWorker | undefined;

  beforeEach(() => {
    dir = tmpDir();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock: systemClock });
  });
  /** The API and the hub's pacer at one rate, the pacer as the hub wires it (src/integrations/wiring.ts) on a data dir. */
  const setup = async (perSecond: number) => {
    api = await startBucketApi({ perSecond, burst: 5, trace: true });
    const of = (i: string) => (i === 'notes' ? limitsAt(perSecond) : undefined);
    pacer = withSharedBuckets(localPacer(createBucketPacer({ limits: of })), new SqliteBuckets(db, systemClock), { limits: of, clock: systemClock });
  };
  afterEach(async () => {
    await worker?.stop();
    await pacer?.stop();
    await api?.close();
    db.close();
    dir.remove();
  });

  /** Who sent each write the API let through, in arrival order. */
  const order = () => api!.arrivals.map((a) => (JSON.parse(a.body) as { text: string }).text.slice(0, 1)).join('');

  it.each([
    // The report's figures (5/s) and the hub's worker (32 slots): bob's writes wait in the buckets' turns.
    { slots: 'the default slots', perSecond: 5, over: {} },
    // Fewer slots than alice's writes: bob's must be claimed at the next free slot, not after her 36 others.
    { slots: '4 slots', perSecond: 20, over: { batchSize: 2, maxInFlight: 4 } },
  ])("with $slots at $perSecond/s, bob's writes go in turn with alice's burst of 40, not after it", { timeout: 40_000 }, async ({ perSecond, over }) => {
    await setup(perSecond);
    const outbox = new SqliteOutbox(db, systemClock);
    const client = createProviderClient({ pacer, limits: { retries: 0 } });
    const send: SendFn = async (job, signal, beforeSend) => {
      const f = client.bind({ label: 'Notes', apiBaseUrl: api!.url, credentials: noCredentials, paceKey: `notes:${job.connectionId}`, signal, beforeSend });
      const res = await f('/notes', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': job.id },
        body: JSON.stringify(job.arguments),
      });
      return { status: res.status, body: await res.text() };
    };
    worker = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock: systemClock, log: silentLogger(), send, ...over });
    const write = (user: 'alice' | 'bob', n: number) =>
      outbox.enqueue({
        tenant: 'default',
        user,
        connectionId: `con_${user}`,
        integration: 'notes',
        tool: 'create',
        arguments: { text: `${user} ${n}` },
        replaySafe: true,
      });
    for (let n = 0; n < BURST; n++) await write('alice', n);
    worker.start();
    // Bob comes once alice's burst is spent and her writes leave at the refill rate.
    await eventually(() => api!.arrivals.length >= 8 || undefined, 10_000, 5);
    for (let n = 0; n < 5; n++) await write('bob', n);
    const before = api!.arrivals.length;
    worker.wake();
    await eventually(async () => ((await outbox.list({ state: 'done' })).length === BURST + 5 ? true : undefined), 30_000, 50);

    const seen = order();
    expect(seen.replace(/b/g, '')).toBe('a'.repeat(BURST));
    expect(seen.replace(/a/g, '')).toBe('b'.repeat(5));
    // Bob's first write within a couple of slots of his arriving; the rest alternate with alice's.
    // A FIFO anywhere on the way (the claim, either bucket) puts all five after alice's 40th.
    const first = seen.indexOf('b');
    expect(first - before, seen).toBeLessThanOrEqual(3);
    expect(seen.lastIndexOf('b') - first, seen).toBeLessThanOrEqual(2 * 4 + 2);
    expect([...api!.appliedByKey.values()].every((n) => n === 1)).toBe(true);
  });
});

/**
 * An integration called with a key from config sends every request as `<integration>:app`: that
 * key is its one connection, so a `perConnection` rate (and `concurrency`) paces it, in the
 * in-process pacer and in the buckets the processes on one data dir share. Before, `perConnection`
 * applied only to linked accounts: an API-key integration declaring it went unpaced.
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import type { RateLimitConfig } from '../../src/definition/rate-limit.js';
import { createBucketPacer, type BucketPacer } from '../../src/outbox/pacing/index.js';
import { localPacer } from '../../src/outbox/redis/shapes.js';
import { withSharedBuckets } from '../../src/outbox/shared-gate.js';
import { SqliteBuckets } from '../../src/outbox/sqlite-buckets.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const limits: RateLimitConfig = { perConnection: { perSecond: 10, burst: 1 } };
const ok = { status: 200, headers: new Headers() };
let pacer: BucketPacer | undefined;
let db: Db | undefined;
let dir: ReturnType<typeof tmpDir> | undefined;
afterEach(() => {
  pacer?.stop();
  db?.close();
  dir?.remove();
  pacer = db = dir = undefined;
});

it('the in-process pacer paces an API key by its perConnection rate', async () => {
  pacer = createBucketPacer({ limits: (i) => (i === 'acme' ? limits : undefined) });
  const signal = new AbortController().signal;
  const t0 = performance.now();
  await pacer.acquire('acme:app', signal);
  pacer.observe('acme:app', ok);
  await pacer.acquire('acme:app', signal);
  // One token at hand, the next 100 ms later: not two at once.
  expect(performance.now() - t0).toBeGreaterThanOrEqual(100 - 5);
  expect(pacer.state('acme:app')?.connection?.perSecond).toBe(10);
});

it('the buckets shared on a data dir pace an API key by its perConnection rate', async () => {
  dir = tmpDir();
  const clock = manualClock();
  db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
  // The process's own pacer paces nothing here: what holds the second request is the shared bucket.
  const gate = withSharedBuckets(localPacer(createBucketPacer({ limits: () => undefined })), new SqliteBuckets(db, clock), {
    limits: (i) => (i === 'acme' ? limits : undefined),
    clock,
  });
  const signal = new AbortController().signal;
  await gate.acquire('acme:app', signal);
  gate.observe?.('acme:app', ok);
  let second = false;
  const granted = gate.acquire('acme:app', signal).then(() => (second = true));
  await new Promise((r) => setTimeout(r, 50));
  expect(second).toBe(false);
  clock.advance(100);
  await granted;
  expect(second).toBe(true);
  await gate.stop?.();
});

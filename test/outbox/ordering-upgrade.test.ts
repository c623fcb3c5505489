/**
 * Ordering keys became HMACs under a hub key; jobs queued before that hold the unkeyed digest. A
 * write queued while such a job is unfinished joins its key, so it still waits its turn; once
 * the old chain is done, new writes are stored under the keyed digest only.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { orderingKeyOf, unkeyedOrderingKeyOf } from '../../src/integrations/outbound.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
let db: Db;
let outbox: SqliteOutbox;
const clock = manualClock();
const secret = randomBytes(32);
const byTicket = { key: 'ticket' };
const base = { tenant: 'default', user: 'alice', connectionId: 'con_a', integration: 'desk', tool: 'comment' };

beforeEach(() => {
  dir = tmpDir();
  db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
  outbox = new SqliteOutbox(db, clock);
});
afterEach(() => {
  db.close();
  dir.remove();
});

const keysOf = (args: Record<string, unknown>) => ({
  orderingKey: orderingKeyOf('desk', byTicket, args, secret)!,
  unkeyedOrderingKey: unkeyedOrderingKeyOf('desk', byTicket, args)!,
});

it('a write queued behind a job of the unkeyed digest takes that key, and the keyed one once the old chain is done', async () => {
  const args = { ticket: 'T-42', text: 'first' };
  const { orderingKey, unkeyedOrderingKey } = keysOf(args);
  // As a hub before the change stored it.
  const old = (await outbox.enqueue({ ...base, arguments: args, orderingKey: unkeyedOrderingKey })).job;
  const next = (await outbox.enqueue({ ...base, arguments: { ...args, text: 'second' }, orderingKey, unkeyedOrderingKey })).job;
  expect(next.orderingKey).toBe(unkeyedOrderingKey);
  // Another value, or another connection, is not held by the old job.
  const other = (await outbox.enqueue({ ...base, arguments: { ticket: 'T-43' }, ...keysOf({ ticket: 'T-43' }) })).job;
  expect(other.orderingKey).toBe(keysOf({ ticket: 'T-43' }).orderingKey);
  const elsewhere = (await outbox.enqueue({ ...base, connectionId: 'con_b', arguments: args, orderingKey, unkeyedOrderingKey })).job;
  expect(elsewhere.orderingKey).toBe(orderingKey);
  // Only the old job is due of its chain: the new one waits for it.
  const claim = await outbox.claim({ owner: 'w1', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
  expect(claim.jobs.map((j) => j.id).sort()).toEqual([old.id, other.id, elsewhere.id].sort());
  for (const j of claim.jobs) {
    expect(await outbox.markSent(j.id, 'w1', 60_000)).toBe(true);
    expect(await outbox.complete(j.id, 'w1', { status: 200, body: '{}' })).toBe(true);
  }
  // The chain's remaining job holds the unkeyed digest still: a write queued now joins it too.
  const third = (await outbox.enqueue({ ...base, arguments: { ...args, text: 'third' }, orderingKey, unkeyedOrderingKey })).job;
  expect(third.orderingKey).toBe(unkeyedOrderingKey);
  const second = await outbox.claim({ owner: 'w1', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
  expect(second.jobs.map((j) => j.id)).toEqual([next.id]);
  for (const id of [next.id, third.id]) {
    if (id === third.id) expect((await outbox.claim({ owner: 'w1', limit: 10, leaseMs: 60_000, maxAttempts: 3 })).jobs.map((j) => j.id)).toEqual([third.id]);
    expect(await outbox.markSent(id, 'w1', 60_000)).toBe(true);
    expect(await outbox.complete(id, 'w1', { status: 200, body: '{}' })).toBe(true);
  }
  const fresh = (await outbox.enqueue({ ...base, arguments: { ...args, text: 'fourth' }, orderingKey, unkeyedOrderingKey })).job;
  expect(fresh.orderingKey).toBe(orderingKey);
  expect((await outbox.find(fresh.id))?.orderingKey).toBe(orderingKey);
});

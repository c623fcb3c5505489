import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type Db, openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { HandlerRegistry, EventFeed } from '../../src/webhooks/inbox/handlers.js';
import { DAY_MS, PurgeJob } from '../../src/webhooks/inbox/purge.js';
import { SqliteEventReads } from '../../src/webhooks/inbox/reads.js';
import { SqliteInbox } from '../../src/webhooks/inbox/sqlite.js';
import { InboxWorker } from '../../src/webhooks/inbox/worker.js';
import { tmpDir } from '../helpers/hub.js';

const alice = { id: 'con_alice', tenant: 'default', user: 'alice' };
const bob = { id: 'con_bob', tenant: 'default', user: 'bob' };

describe('recent_events cursors on a SQLite file (injected clock)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let file: string;
  let clock: ReturnType<typeof manualClock>;
  const dbs: Db[] = [];
  beforeEach(() => {
    dir = tmpDir();
    file = join(dir.path, 'switchboard.db');
    clock = manualClock();
  });
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
    dir.remove();
  });

  const open = (migrations = MIGRATIONS) => {
    const db = openDb({ file, clock, migrations });
    dbs.push(db);
    const inbox = new SqliteInbox(db, clock);
    const worker = new InboxWorker({
      queue: inbox,
      handlers: new HandlerRegistry(),
      feed: new EventFeed(),
      clock,
      log: silentLogger(),
      owner: 'w',
      leaseMs: 60_000,
      maxAttempts: 8,
    });
    return { db, inbox, worker, reads: new SqliteEventReads(db) };
  };
  const accept = (n: ReturnType<typeof open>, con: typeof alice, tag: string) =>
    n.inbox.accept({ integration: 'acme', deliveryId: `${con.user}-${tag}`, type: 't', connection: con, payload: JSON.stringify({ tag }) });
  const tags = (page: Awaited<ReturnType<SqliteEventReads['recent']>>) => page.events.map((e) => (e.payload as { tag: string }).tag);
  const read = (n: ReturnType<typeof open>, user: string, after?: string) =>
    n.reads.recent({ tenant: 'default', user, integration: 'acme', limit: 20, ...(after ? { after } : {}) });

  it('a cursor kept across the retention purge of every row still returns each event stored after it', async () => {
    const n = open();
    for (const tag of ['a1', 'a2', 'a3']) await accept(n, alice, tag);
    for (const tag of ['b1', 'b2']) await accept(n, bob, tag);
    await n.worker.drain();
    const aliceCursor = (await read(n, 'alice')).nextCursor;
    const bobCursor = (await read(n, 'bob')).nextCursor;
    clock.advance(8 * DAY_MS);
    expect(await new PurgeJob({ inbox: n.inbox, clock, log: silentLogger(), retentionMs: 7 * DAY_MS }).runOnce()).toEqual({ deliveries: 5, events: 5 });
    for (const tag of ['a4', 'a5']) await accept(n, alice, tag);
    await accept(n, bob, 'b3');
    expect(tags(await read(n, 'alice', aliceCursor))).toEqual(['a4', 'a5']);
    expect(tags(await read(n, 'bob', bobCursor))).toEqual(['b3']);
  });

  it('a store made before the sequence column keeps its rows, and cursors issued then keep their meaning', async () => {
    const old = open(MIGRATIONS.filter((m) => m.version !== 18));
    for (const tag of ['a1', 'a2']) await accept(old, alice, tag);
    await accept(old, bob, 'b1');
    const cursor = (await read(old, 'alice')).nextCursor;
    await accept(old, alice, 'a3');
    old.db.close();
    dbs.pop();
    const n = open();
    expect(tags(await read(n, 'alice', cursor))).toEqual(['a3']);
    expect(tags(await read(n, 'alice'))).toEqual(['a1', 'a2', 'a3']);
    expect(tags(await read(n, 'bob'))).toEqual(['b1']);
    await accept(n, alice, 'a4');
    expect(tags(await read(n, 'alice', cursor))).toEqual(['a3', 'a4']);
  });
});

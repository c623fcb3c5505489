import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { EventFeed, HandlerRegistry } from '../../src/webhooks/inbox/handlers.js';
import { SqliteInbox } from '../../src/webhooks/inbox/sqlite.js';
import { InboxWorker } from '../../src/webhooks/inbox/worker.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const listedSchema = z.array(
  z.strictObject({
    id: z.string(),
    type: z.string(),
    integration: z.string(),
    connectionId: z.string().nullable(),
    source: z.enum(['webhook', 'poll']),
    receivedAt: z.number(),
    payload: z.unknown(),
    endpoint: z.string(),
    tenant: z.string().nullable(),
    user: z.string().nullable(),
    providerEventId: z.string().nullable(),
    state: z.string(),
    attempts: z.number(),
    nextAttemptAt: z.number(),
    lastError: z.string().nullable(),
  }),
);

/**
 * The CLI runs as its own process on the data dir while this process plays the hub: it accepts
 * events and runs the worker on the same SQLite file. The clock starts at the real now, since the
 * CLI's replay stamps the event with the system clock.
 */
describe('switchboard webhooks list | replay', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let db: Db;
  let inbox: SqliteInbox;
  let worker: InboxWorker;
  let healthy: boolean;
  let clock: ReturnType<typeof manualClock>;
  const handled: string[] = [];
  const cli = (...args: string[]) => runCli(['webhooks', ...args, '--data', data], dir.path);

  beforeEach(async () => {
    dir = tmpDir();
    data = join(dir.path, 'data');
    clock = manualClock(Date.now() - 60_000);
    db = openDb({ file: join(data, 'switchboard.db'), clock });
    inbox = new SqliteInbox(db, clock);
    const handlers = new HandlerRegistry();
    healthy = false;
    handled.length = 0;
    handlers.register('acme', async (e) => {
      if (!healthy) throw new Error('acme answered 503');
      handled.push(e.id);
    });
    worker = new InboxWorker({ queue: inbox, handlers, feed: new EventFeed(), clock, log: silentLogger(), maxAttempts: 1 });
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  async function seed() {
    const alice = await inbox.accept({
      integration: 'acme',
      deliveryId: 'd-a',
      type: 'ticket.updated',
      connection: { id: 'con_a', tenant: 'default', user: 'alice' },
      payload: '{"ticket":7}',
    });
    clock.advance(1);
    const bob = await inbox.accept({
      integration: 'acme',
      deliveryId: 'd-b',
      type: 'ticket.created',
      connection: { id: 'con_b', tenant: 'default', user: 'bob' },
      payload: '{}',
    });
    clock.advance(1);
    const lost = await inbox.accept({ integration: 'acme', deliveryId: 'd-u', type: 'ticket.created', payload: '{}' });
    await worker.drain(); // one attempt each: all three dead
    return { alice: alice.eventId, bob: bob.eventId, lost: lost.eventId };
  }

  it('lists events with their state and owner, filtered; --json gives the envelope and state', { timeout: 90_000 }, async () => {
    const ids = await seed();
    const text = await cli('list');
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split('  ').slice(0, 6))).toEqual([
      [ids.lost, 'dead', 'acme', '(unroutable)', 'ticket.created', 'webhook'],
      [ids.bob, 'dead', 'acme', 'default/bob', 'ticket.created', 'webhook'],
      [ids.alice, 'dead', 'acme', 'default/alice', 'ticket.updated', 'webhook'],
    ]);
    expect(lines[0]).toMatch(/attempts=0 {2}unroutable: no connection matched this event$/);
    expect(lines[2]).toMatch(/attempts=1 {2}acme answered 503$/);

    const alice = listedSchema.parse(JSON.parse((await cli('list', '--user', 'alice', '--json')).stdout));
    expect(alice).toEqual([
      expect.objectContaining({ id: ids.alice, connectionId: 'con_a', tenant: 'default', user: 'alice', payload: { ticket: 7 }, state: 'dead', attempts: 1 }),
    ]);
    const unroutable = listedSchema.parse(JSON.parse((await cli('list', '--unroutable', '--json')).stdout));
    expect(unroutable.map((e) => [e.id, e.connectionId, e.user])).toEqual([[ids.lost, null, null]]);
    expect((await cli('list', '--integration', 'other')).stdout).toBe('no events\n');
    // A listing that fills its limit says there may be more, on stderr (stdout stays the listing).
    const cut = await cli('list', '--limit', '1');
    expect(cut.stdout.trimEnd().split('\n').length).toBe(1);
    expect(cut.stderr).toContain('showing the newest 1 events; there may be more: --limit N (up to 10000) shows more');
    const whole = await cli('list', '--limit', '3', '--json');
    expect(JSON.parse(whole.stdout)).toHaveLength(3);
    expect(whole.stderr).toContain('showing the newest 3 events');
    expect((await cli('list', '--limit', '4')).stderr).not.toContain('there may be more');
    for (const n of ['0', '100000', 'ten']) {
      const r = await cli('list', '--limit', n);
      expect([n, r.code, r.stderr]).toEqual([n, 2, expect.stringContaining(`--limit ${n}: use a whole number from 1 to 10000`)]);
    }

    const bad = await cli('list', '--state', 'stuck');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('switchboard: error (invalid_params): --state stuck: use one of pending, processing, done, failed, dead');
  });

  it('replay puts a dead event back; the worker on the store runs it once; replaying a pending or unknown one is refused', { timeout: 90_000 }, async () => {
    const ids = await seed();
    // A replay runs handlers: an unroutable event has none, and the message says so.
    const lost = await cli('replay', ids.lost);
    expect(lost.code).toBe(0);
    expect(lost.stderr).toContain('but no connection matched it, so a running hub');
    expect(lost.stderr).toContain('marks it dead (unroutable) again');
    const r = await cli('replay', ids.alice);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ids.alice} pending\n`);
    expect(r.stderr).toContain(`${ids.alice}: dead after 1 attempts (last error: acme answered 503)`);
    expect(r.stderr).toContain(`${ids.alice}: pending again, attempts reset`);
    expect(await inbox.get(ids.alice)).toMatchObject({ state: 'pending', attempts: 0, lastError: null });

    const again = await cli('replay', ids.alice);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`switchboard: error (bad_request): event ${ids.alice} is pending: only done, failed or dead events are replayed`);

    healthy = true;
    clock.set(Date.now()); // the CLI stamped the replay with the system clock
    // Both replayed events are taken: alice's is handled, the unroutable one goes back to dead.
    expect(await worker.drain()).toBe(2);
    expect(handled).toEqual([ids.alice]);
    expect(await inbox.get(ids.lost)).toMatchObject({ state: 'dead' });
    const done = listedSchema.parse(JSON.parse((await cli('list', '--state', 'done', '--json')).stdout));
    expect(done.map((e) => e.id)).toEqual([ids.alice]);

    const unknown = await cli('replay', 'evt_missing');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('switchboard: error (not_found): no event evt_missing in the inbox');
    const none = await cli('replay');
    expect(none.code).toBe(2);
  });
});

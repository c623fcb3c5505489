import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import type { Connection } from '../../src/connections/types.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MAX_INTERVAL_MS, nextRun } from '../../src/polling/schedule.js';
import { SqlitePollerStore, type PollerRow } from '../../src/polling/store.js';
import { runCli } from '../helpers/hub.js';
import { CHANGES_FEED, startChangesServer, type Change, type ChangesServer } from './changes-server.js';
import { linkUser, manualTimer, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * The schedule and the cursor against a local provider that speaks an inclusive timestamp cursor
 * (`since`), over real HTTP on loopback, into a hub on a real SQLite file with an injected clock.
 */

let server: ChangesServer;
let hub: PollingHub;
let c: Connection;

beforeEach(async () => {
  server = await startChangesServer();
  hub = await pollingHub({ tickets: polledIntegration(server.issuer, CHANGES_FEED) });
  c = await linkUser(hub, hub.clock, { accessToken: 'at-1' }, 'alice');
});
afterEach(async () => {
  await hub.stop();
  await server.close();
});

const change = (id: string, ts: number): Change => ({ id, ts, kind: 'thing.changed' });
const row = async (): Promise<PollerRow> => (await new SqlitePollerStore(hub.hub.db, hub.clock).get({ connectionId: c.id, feed: 'events' }))!;
const stored = async () => (await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 1000 })).map((e) => e.providerEventId).sort();
/** Moves the clock to the poller's next run and runs what is due. */
async function runNext(): Promise<number> {
  hub.clock.set((await row()).nextRunAt);
  return hub.hub.pollers.tick();
}

describe('an inclusive cursor', () => {
  it('a page boundary inside a run of items with one timestamp loses none of them, and stores none twice', async () => {
    // Runs shorter than a page (4), each crossing a boundary: [a] [b c d] [e f] [g] [h i j].
    server.changes = [change('a', 1), change('b', 2), change('c', 2), change('d', 2), change('e', 3), change('f', 3), change('g', 4)];
    server.changes.push(change('h', 5), change('i', 5), change('j', 5));
    expect(await hub.hub.pollers.tick()).toBe(1);
    // One run: read on at once while has_more and the cursor moves; each page starts at the last timestamp seen.
    expect(server.requests).toEqual(['', '?since=2', '?since=3', '?since=5']);
    expect(await stored()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    expect(await hub.hub.inbox.inbox.cursorOf(c.id, 'events')).toBe('5');
    // The next run re-reads the last run of 5s: all duplicates, an empty poll, not a stall.
    server.changes.push(change('k', 6), change('l', 6));
    expect(await runNext()).toBe(1);
    expect(await stored()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']);
    expect(await row()).toMatchObject({ state: 'active', stuckPages: 0, failures: 0, eventsTotal: 12 });
  });

  it('items the cursor still re-reads outlive the retention purge: a quiet feed never hands its last item out twice', async () => {
    server.changes = [change('a', 1), change('b', 2)];
    expect(await hub.hub.pollers.tick()).toBe(1);
    server.changes.push(change('c', 3));
    await runNext();
    // A quiet poll re-reads c at since=3: a duplicate.
    await runNext();
    expect(server.requests).toEqual(['', '?since=2', '?since=3']);
    await hub.hub.inbox.worker.drain();
    const c3 = (await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 10 })).find((e) => e.providerEventId === 'c')!;
    // Eight days on (the token has expired by then, so the poller's next read is what it would
    // store: c again, at the unchanged cursor), past the 7-day retention.
    hub.clock.advance(8 * 86_400_000);
    expect((await hub.hub.inbox.purge.runOnce()).events).toBe(2);
    const reread = { integration: 'tickets', source: 'poll' as const, providerEventId: 'c', type: 'thing.changed', payload: '{}' };
    const route = { id: c.id, tenant: c.tenant, user: c.user };
    const at = { integration: 'tickets', connectionId: c.id, feed: 'events', from: '3', to: '3' };
    const again = await hub.hub.inbox.inbox.acceptPolled([{ ...reread, connection: route }], at);
    expect(again).toEqual({ outcome: 'committed', results: [{ outcome: 'duplicate', eventId: c3.id, routed: true }] });
    expect(await stored()).toEqual(['c']);
    // Once the cursor moved on, c is only history: the next purge takes it (d, at the cursor, stays).
    await hub.hub.inbox.inbox.acceptPolled([{ ...reread, providerEventId: 'd', connection: route }], { ...at, to: '4' });
    await hub.hub.inbox.worker.drain();
    hub.clock.advance(8 * 86_400_000);
    expect((await hub.hub.inbox.purge.runOnce()).events).toBe(1);
    expect(await stored()).toEqual(['d']);
  });

  it('a run longer than a page stops the cursor while items keep coming: stalled with a reason, in /readyz, /metrics and doctor', async () => {
    server.pageSize = 3;
    server.changes = [1, 2, 3, 4, 5].map((n) => change(`s${n}`, 7));
    for (let n = 0; n < 3; n++) await runNext();
    const r = await row();
    expect(r).toMatchObject({ state: 'stalled', stuckPages: 3, failures: 0 });
    expect(r.reason).toMatch(/the cursor stopped at "7" while the provider kept returning items/);
    const ready = await fetch(`${new URL(hub.url).origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'degraded',
      pollers: [{ integration: 'tickets', feed: 'events', connectionId: c.id, state: 'stalled', reason: r.reason }],
    });
    const metrics = await (await fetch(`${new URL(hub.url).origin}/metrics`)).text();
    expect(metrics).toContain('switchboard_pollers{integration="tickets",feed="events",state="stalled"} 1');
    expect(metrics).toContain('switchboard_pollers{integration="tickets",feed="events",state="active"} 0');
    // doctor, a separate process on the same store, names it and fails.
    const file = join(hub.dataDir, 'doctor.config.json');
    writeFileSync(file, JSON.stringify({ integrations: { tickets: polledIntegration(server.issuer, CHANGES_FEED) }, dataDir: hub.dataDir }));
    const doctor = await runCli(['doctor', '--json', '--config', file], hub.dataDir);
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout).checks).toContainEqual({ ok: false, line: `pollers.tickets.events (alice): stalled: ${r.reason}` });
    // The provider fixed (a bigger page): the next run moves on, the poller is active again.
    server.pageSize = 10;
    server.changes.push(change('t', 8));
    await runNext();
    expect(await row()).toMatchObject({ state: 'active', reason: null, stuckPages: 0 });
    expect(await stored()).toEqual(['s1', 's2', 's3', 's4', 's5', 't']);
  });
});

describe('after a restart', () => {
  it('/metrics shows a stalled poller at once, from the state the store kept, not only after its next run', async () => {
    server.pageSize = 3;
    server.changes = [1, 2, 3, 4, 5].map((n) => change(`s${n}`, 7));
    for (let n = 0; n < 3; n++) await runNext();
    expect(await row()).toMatchObject({ state: 'stalled' });
    // Another hub process starts on the data dir (the restarted one): its scheduler's next run of
    // this poller is far off (the stored backoff), and its timer never fires here.
    const config = configSchema.parse({ integrations: { tickets: polledIntegration(server.issuer, CHANGES_FEED) }, dataDir: hub.dataDir, server: { port: 0 } });
    const listener = await bindHttp(config.server, { host: '127.0.0.1' });
    const again = new Hub({ config, log: silentLogger(), listener, clock: hub.clock, polling: { timer: manualTimer(), random: () => 0.5 } });
    try {
      again.start();
      await again.ready();
      const origin = new URL((await again.listen()).url).origin;
      const metrics = await (await fetch(`${origin}/metrics`)).text();
      expect(metrics).toContain('switchboard_pollers{integration="tickets",feed="events",state="stalled"} 1');
    } finally {
      await again.stop();
    }
  });
});

describe('numeric ids and cursors', () => {
  it('past 2^53 they are kept as sent: two items one apart are two events, the payload and the cursor keep every digit', async () => {
    server.intercept = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Raw literals: JSON.stringify of a number could not write them.
      res.end('{"items":[{"id":9007199254740992,"kind":"k"},{"id":9007199254740993,"kind":"k"}],"cursor":9007199254740993,"has_more":false}');
      return true;
    };
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await stored()).toEqual(['9007199254740992', '9007199254740993']);
    const events = await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 10 });
    expect(events.map((e) => e.payload.toString()).sort()).toEqual(['{"id":9007199254740992,"kind":"k"}', '{"id":9007199254740993,"kind":"k"}']);
    expect(await hub.hub.inbox.inbox.cursorOf(c.id, 'events')).toBe('9007199254740993');
  });

  it('an empty cursor on the last page (Slack\'s next_cursor: "") keeps its items and the cursor where it was', async () => {
    server.intercept = (_req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          n === 1 ? { items: [{ id: 'i1', kind: 'k' }], cursor: '7', has_more: true } : { items: [{ id: 'i2', kind: 'k' }], cursor: '', has_more: false },
        ),
      );
      return true;
    };
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await stored()).toEqual(['i1', 'i2']);
    expect(await hub.hub.inbox.inbox.cursorOf(c.id, 'events')).toBe('7');
    expect(await row()).toMatchObject({ failures: 0, lastError: null });
  });
});

describe('a lease', () => {
  it('held by a killed process on this host is taken at once; one held by a live process elsewhere waits for its end', async () => {
    server.changes = [change('a', 1)];
    const key = { connectionId: c.id, feed: 'events' };
    const store = new SqlitePollerStore(hub.hub.db, hub.clock);
    // A process that has exited: its pid is gone, as after a SIGKILL mid-poll.
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    expect(await store.claim(key, `${hostname()}:${child.pid}:1:dead`, 5 * 60_000)).toBeDefined();
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await stored()).toEqual(['a']);
    // Another host's process cannot be judged: its lease runs its course.
    hub.clock.set((await row()).nextRunAt);
    expect(await store.claim(key, 'elsewhere:4242:1:live', 5 * 60_000)).toBeDefined();
    expect(await hub.hub.pollers.tick()).toBe(0);
    hub.clock.advance(5 * 60_000);
    expect(await hub.hub.pollers.tick()).toBe(1);
  });
});

describe('the schedule', () => {
  it('empty polls double the interval up to 15 min; activity resets it to the feed interval', async () => {
    const intervals: number[] = [];
    for (let n = 0; n < 6; n++) {
      await runNext();
      const r = await row();
      intervals.push(r.intervalMs);
      // random() = 0.5 is no jitter: the next run is exactly one interval away.
      expect(r.nextRunAt - hub.clock.now()).toBe(r.intervalMs);
    }
    expect(intervals).toEqual([120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
    server.changes.push(change('x', 1));
    await runNext();
    expect(await row()).toMatchObject({ intervalMs: 60_000, emptyPolls: 0, eventsTotal: 1 });
    // Nothing runs before it is due.
    hub.clock.advance(59_999);
    expect(await hub.hub.pollers.tick()).toBe(0);
    hub.clock.advance(1);
    expect(await hub.hub.pollers.tick()).toBe(1);
  });

  it('jitter stays within ±10 % of the interval, and a pause the provider asked for is a floor', () => {
    const prev = { emptyPolls: 0, failures: 0 };
    expect(nextRun(60_000, prev, 'activity', 0, () => 0).delayMs).toBe(54_000);
    expect(nextRun(60_000, prev, 'activity', 0, () => 0.999_999).delayMs).toBe(66_000);
    expect(nextRun(60_000, { emptyPolls: 9, failures: 0 }, 'empty', 0, () => 0.5)).toMatchObject({ intervalMs: MAX_INTERVAL_MS, delayMs: MAX_INTERVAL_MS });
    expect(nextRun(60_000, prev, 'more', 120_000, () => 0).delayMs).toBe(120_000);
    expect(nextRun(60_000, prev, 'activity', 120_000, () => 0)).toMatchObject({ intervalMs: 60_000, delayMs: 120_000 });
  });

  it('a 429 with Retry-After pauses the poller that long, without counting a failure', async () => {
    server.changes = [change('a', 1)];
    server.intercept = (_req, res, n) => {
      if (n > 1) return false;
      res.writeHead(429, { 'retry-after': '120', 'content-type': 'application/json' }).end('{"error":"slow down"}');
      return true;
    };
    const t0 = hub.clock.now();
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await row()).toMatchObject({ failures: 0, pausedUntil: t0 + 120_000, nextRunAt: t0 + 120_000, state: 'active', lastError: null });
    hub.clock.advance(119_999);
    expect(await hub.hub.pollers.tick()).toBe(0);
    expect(server.requests).toHaveLength(1);
    hub.clock.advance(1);
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await stored()).toEqual(['a']);
  });

  it('X-RateLimit headers pause the poller once 70 % of the budget is spent, until the reset', async () => {
    server.pageSize = 2;
    server.changes = ['a', 'b', 'c', 'd'].map((id, i) => change(id, i + 1));
    const reset = Math.floor(hub.clock.now() / 1000) + 90;
    // 100 a window: 31 left after the first page (69 % spent) reads on; 30 left (70 %) pauses.
    server.headers = (n) => ({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': String(32 - n), 'x-ratelimit-reset': String(reset) });
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(server.requests).toEqual(['', '?since=2']);
    expect(await stored()).toEqual(['a', 'b', 'c']);
    expect(await row()).toMatchObject({ pausedUntil: reset * 1000, nextRunAt: reset * 1000, failures: 0 });
    hub.clock.set(reset * 1000 - 1);
    expect(await hub.hub.pollers.tick()).toBe(0);
    server.headers = () => ({});
    hub.clock.set(reset * 1000);
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect(await stored()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('repeated errors stall the poller with the last error as its reason; a success clears it', async () => {
    server.intercept = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('database on fire');
      return true;
    };
    for (let n = 0; n < 5; n++) await runNext();
    const r = await row();
    expect(r).toMatchObject({ state: 'stalled', failures: 5 });
    expect(r.reason).toBe('5 polls in a row failed; the last: /changes answered HTTP 500: database on fire');
    server.intercept = undefined;
    await runNext();
    expect(await row()).toMatchObject({ state: 'active', failures: 0, reason: null, lastError: null });
  });
});

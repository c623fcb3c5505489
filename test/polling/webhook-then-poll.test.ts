import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { SqlitePollerStore, type PollerRow } from '../../src/polling/store.js';
import { post, standardHeaders } from '../webhooks/route-harness.js';
import { CHANGES_FEED, startChangesServer, type ChangesServer } from './changes-server.js';
import { linkUser, pollingHub, polledIntegration, WEBHOOK_SECRET, type PollingHub } from './harness.js';

/**
 * README (Polling): "The events stored since the cursor took its present value are kept past
 * retentionDays until it moves on, so a quiet feed never hands its last item out twice." Here the
 * last item came by webhook first (the usual case: polling is the safety net under webhooks, one
 * change deduplicated by its provider event id) and the inclusive cursor re-reads it on every quiet
 * poll. A webhook, a local provider feed over real HTTP, a real SQLite file, the hub's clock injected.
 */

const DAY = 86_400_000;
let server: ChangesServer;
let hub: PollingHub;
let c: Connection;

beforeEach(async () => {
  server = await startChangesServer();
  const hooks = {
    webhooks: { scheme: 'standard-webhooks', secrets: [WEBHOOK_SECRET], accountFrom: 'body:account', eventIdFrom: 'body:id', typeFrom: 'body:kind' },
  };
  hub = await pollingHub({ tickets: polledIntegration(server.issuer, CHANGES_FEED, hooks) });
  c = await linkUser(hub, hub.clock, { accessToken: 'at-1' }, 'alice');
});
afterEach(async () => {
  await hub.stop();
  await server.close();
});

const row = async (): Promise<PollerRow> => (await new SqlitePollerStore(hub.hub.db, hub.clock).get({ connectionId: c.id, feed: 'events' }))!;
const stored = async () => (await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 100 })).map((e) => `${e.providerEventId} ${e.source}`).sort();
async function runNext(): Promise<void> {
  hub.clock.set((await row()).nextRunAt);
  await hub.hub.pollers.tick();
}

describe('an item that came by webhook before the poll re-read it', () => {
  it('outlives the retention purge while the inclusive cursor still re-reads it: it is not handed out again', async () => {
    server.changes = [{ id: 'a', ts: 1, kind: 'thing.changed' }];
    await hub.hub.pollers.tick();
    hub.clock.advance(60_000);
    // b arrives by webhook, then shows in the feed: the poll that moves the cursor onto it finds it stored.
    const body = JSON.stringify({ id: 'b', kind: 'thing.changed', account: 'alice' });
    const res = await post(hub, '/webhooks/tickets', body, standardHeaders(WEBHOOK_SECRET, 'msg_b', body, Math.floor(hub.clock.now() / 1000)));
    expect(await res.json()).toMatchObject({ ok: true, duplicate: false, routed: 1 });
    server.changes.push({ id: 'b', ts: 2, kind: 'thing.changed' });
    hub.clock.advance(60_000);
    await runNext();
    await runNext();
    expect(server.requests).toEqual(['', '?since=1', '?since=2']);
    expect(await stored()).toEqual(['a poll', 'b webhook']);
    await hub.hub.inbox.worker.drain();

    // Eight days of a quiet feed: past the 7-day retention, the cursor still at b's timestamp.
    hub.clock.advance(8 * DAY);
    await hub.hub.inbox.purge.runOnce();
    await runNext();
    expect(server.requests.at(-1)).toBe('?since=2');
    // b is still known, so the re-read is its duplicate; a, behind the cursor, is history.
    expect(await stored()).toEqual(['b webhook']);

    // Once the cursor has moved past it (the page that moves it off b still holds b), b is history too.
    server.changes.push({ id: 'c', ts: 3, kind: 'thing.changed' });
    await runNext();
    hub.clock.advance(60_000);
    server.changes.push({ id: 'd', ts: 4, kind: 'thing.changed' });
    await runNext();
    expect(server.requests.slice(-2)).toEqual(['?since=2', '?since=3']);
    await hub.hub.inbox.worker.drain();
    hub.clock.advance(8 * DAY);
    await hub.hub.inbox.purge.runOnce();
    expect(await stored()).toEqual(['d poll']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { sandbox } from '../../integrations/sandbox/index.js';
import { api, startSandbox, type Harness } from '../sandbox/harness.js';
import { SANDBOX_FEED, WEBHOOK_SECRET, linkUser, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * Polling the sandbox provider's events feed over real HTTP on loopback, into a hub on a real
 * SQLite file, with the hub's clock and the scheduler's timer in the test's hands.
 */

let h: Harness;
let hub: PollingHub;
let feedRequests: string[];

async function start(over: Parameters<typeof startSandbox>[0] = {}, integration: Record<string, unknown> = {}): Promise<void> {
  feedRequests = [];
  h = await startSandbox({ rateLimit: { perSecond: 1000, burst: 1000 }, ...over }, (app) =>
    app.use((req, _res, next) => {
      // The poller's requests only: the test reads the whole feed with limit=100.
      if (req.path === '/sandbox/api/events' && req.query['limit'] === undefined) feedRequests.push(req.url.replace('/sandbox/api', ''));
      next();
    }),
  );
  hub = await pollingHub({ tickets: polledIntegration(h.issuer, SANDBOX_FEED, integration) });
}

afterEach(async () => {
  await hub?.stop();
  await h?.close();
});

/** The sandbox's own log of `token`'s account: every change, oldest first. */
async function feedOf(token: string): Promise<Array<{ id: string; type: string; account_id: string }>> {
  const res = await api(h, 'GET', '/events?limit=100', token);
  return ((await res.json()) as { events: Array<{ id: string; type: string; account_id: string }> }).events.sort(byId);
}

/** The hub's events, in the provider's order (rows stored in one instant have no order of their own). */
const polled = async (user?: string) => (await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 1000, ...(user ? { user } : {}) })).sort(byId);
const byId = <T extends { providerEventId: string | null } | { id: string }>(a: T, b: T) => idOf(a).localeCompare(idOf(b));
const idOf = (x: { providerEventId: string | null } | { id: string }) => ('providerEventId' in x ? (x.providerEventId ?? '') : x.id);

describe('pollers on the sandbox events feed', () => {
  it('the built-in sandbox definition declares the events feed', () => {
    expect(sandbox({ publicUrl: 'http://127.0.0.1:1' }).poll).toEqual({
      events: {
        path: '/events',
        cursorParam: 'after',
        cursorFrom: ['next_cursor'],
        itemsAt: ['events'],
        idAt: ['id'],
        typeFrom: ['type'],
        intervalSeconds: 60,
      },
    });
  });

  it("a linked connection's changes arrive as inbox events with source poll, each once, and the cursor is stored with them", async () => {
    await start();
    const c = await linkUser(hub, hub.clock, h, 'alice');
    const token = (await hub.hub.integrations.connections.tokens(c)).accessToken;
    const made = (await (await api(h, 'POST', '/tickets', token, { title: 'one' })).json()) as { id: string };
    await api(h, 'POST', '/tickets', token, { title: 'two' });
    await api(h, 'PATCH', `/tickets/${made.id}`, token, { status: 'closed' });
    expect(await hub.hub.pollers.tick()).toBe(1);
    const truth = await feedOf(token);
    const events = await polled();
    expect(events.map((e) => [e.providerEventId, e.type, e.source, e.connection?.id])).toEqual(truth.map((t) => [t.id, t.type, 'poll', c.id]));
    expect(JSON.parse(events[0]!.payload.toString())).toMatchObject({ id: truth[0]!.id, account_id: 'alice', type: truth[0]!.type });
    // Nothing is due until the interval has passed; then the feed is read from the stored cursor and brings nothing twice.
    expect(await hub.hub.pollers.tick()).toBe(0);
    hub.clock.advance(60_000);
    await api(h, 'DELETE', `/tickets/${made.id}`, token);
    expect(await hub.hub.pollers.tick()).toBe(1);
    expect((await polled()).map((e) => e.providerEventId)).toEqual((await feedOf(token)).map((t) => t.id));
    // The first run read from the start (one page, has_more false); the second from the cursor it stored.
    expect(feedRequests).toHaveLength(2);
    expect(feedRequests[0]).toBe('/events');
    const after = new URL(feedRequests[1]!, 'http://x').searchParams.get('after');
    expect(after).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await hub.hub.inbox.inbox.cursorOf(c.id, 'events')).not.toBe(after);
  });

  it('a full page (has_more) is followed at once, in the same run', async () => {
    await start();
    const c = await linkUser(hub, hub.clock, h, 'alice');
    const token = (await hub.hub.integrations.connections.tokens(c)).accessToken;
    for (let i = 0; i < 120; i++) await api(h, 'POST', '/tickets', token, { title: `t${i}` });
    expect(await hub.hub.pollers.tick()).toBe(1);
    // 50 + 50 + 20: three pages in one run, the last one saying has_more false.
    expect(feedRequests).toHaveLength(3);
    expect(new Set((await polled()).map((e) => e.providerEventId)).size).toBe(120);
  });

  it("two users' pollers side by side: each one's changes routed only to that user's connection", async () => {
    await start();
    const a = await linkUser(hub, hub.clock, h, 'alice');
    const b = await linkUser(hub, hub.clock, h, 'bob');
    const ta = (await hub.hub.integrations.connections.tokens(a)).accessToken;
    const tb = (await hub.hub.integrations.connections.tokens(b)).accessToken;
    for (let i = 0; i < 3; i++) await api(h, 'POST', '/tickets', ta, { title: `a${i}` });
    await api(h, 'POST', '/tickets', tb, { title: 'b0' });
    expect(await hub.hub.pollers.tick()).toBe(2);
    const alice = await polled('alice');
    const bob = await polled('bob');
    expect(alice.map((e) => e.providerEventId)).toEqual((await feedOf(ta)).map((t) => t.id));
    expect(bob.map((e) => e.providerEventId)).toEqual((await feedOf(tb)).map((t) => t.id));
    expect(alice.every((e) => e.connection?.id === a.id && JSON.parse(e.payload.toString()).account_id === 'alice')).toBe(true);
    expect(bob.every((e) => e.connection?.id === b.id && JSON.parse(e.payload.toString()).account_id === 'bob')).toBe(true);
  });

  it('the sandbox drops 30 % of its webhooks while polling runs: every change is processed exactly once, by webhook or by poll', async () => {
    // The sandbox learns the hub's address once the hub is listening: its deliveries go through this fetch.
    let hubOrigin = '';
    const toHub: typeof fetch = (url, init) => fetch(String(url).replace('http://hub.invalid', hubOrigin), init);
    const hooks = { scheme: 'standard-webhooks', secrets: [WEBHOOK_SECRET], accountFrom: 'body:account_id', eventIdFrom: 'body:id', typeFrom: 'body:type' };
    await start(
      { webhooks: { url: 'http://hub.invalid/webhooks/tickets', secret: WEBHOOK_SECRET }, drop: 0.3, dropSeed: 42, webhookRetryDelaysMs: [], fetch: toHub },
      { webhooks: hooks },
    );
    hubOrigin = new URL(hub.url).origin;
    const handled = new Map<string, number>();
    hub.hub.inbox.handlers.register('tickets', async (e) => void handled.set(e.providerEventId!, (handled.get(e.providerEventId!) ?? 0) + 1));
    const c = await linkUser(hub, hub.clock, h, 'alice');
    const token = (await hub.hub.integrations.connections.tokens(c)).accessToken;
    for (let i = 0; i < 20; i++) {
      const t = (await (await api(h, 'POST', '/tickets', token, { title: `t${i}` })).json()) as { id: string };
      await api(h, 'PATCH', `/tickets/${t.id}`, token, { status: 'pending' });
    }
    await h.sandbox.flush();
    const stats = h.sandbox.deliveryStats();
    expect(stats.dropped + stats.delivered).toBe(40);
    expect(stats.dropped).toBeGreaterThan(5);
    expect(stats.failed).toBe(0);
    // A poll then finds every change; the ones that came by webhook are the same events (layer two).
    expect(await hub.hub.pollers.tick()).toBe(1);
    await hub.hub.inbox.worker.drain();
    const truth = (await feedOf(token)).map((t) => t.id);
    const events = await polled();
    expect(events.map((e) => e.providerEventId).sort()).toEqual([...truth].sort());
    expect(events.filter((e) => e.source === 'webhook')).toHaveLength(stats.delivered);
    expect(events.filter((e) => e.source === 'poll')).toHaveLength(stats.dropped);
    expect(events.every((e) => e.connection?.id === c.id)).toBe(true);
    await expect.poll(async () => (await polled()).every((e) => e.state === 'done')).toBe(true);
    expect([...handled.keys()].sort()).toEqual([...truth].sort());
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    // A late webhook of an event the poll stored is a duplicate, handled no second time.
    hub.clock.advance(60_000);
    expect(await hub.hub.pollers.tick()).toBe(1);
    await hub.hub.inbox.worker.drain();
    expect(await polled()).toHaveLength(40);
  });
});

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { Connection } from '../../src/connections/types.js';
import { webhooksSchema } from '../../src/definition/webhooks.js';
import { HubError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { InboxEvent } from '../../src/webhooks/inbox/types.js';
import { serveWebhooks, webhookHandler } from '../../src/webhooks/route.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, locationOf } from '../integrations/browser.js';
import { ACME, ACME_SECRET, OWN_SECRET, post, standardHeaders, tokens } from './route-harness.js';

let hub: RunningHub;
let alice: Connection;
let bob: Connection;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
  const repo = hub.hub.integrations.connections;
  alice = await repo.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-A' });
  bob = await repo.link({ tenant: 'default', user: 'bob', integration: 'acme', tokens: tokens(2), scopes: [], accountId: 'acct-B' });
});
afterAll(() => hub.stop());

function event(account: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ id: `evt_${randomUUID()}`, type: 'ticket.updated', account_id: account, ...extra });
}

async function deliver(
  path: string,
  body: string,
  secret = ACME_SECRET,
  id = `msg_${randomUUID()}`,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await post(hub, path, body, standardHeaders(secret, id, body));
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function stored(id: unknown): Promise<InboxEvent> {
  const e = await hub.hub.inbox.inbox.get(String(id));
  if (!e) throw new Error(`no event ${String(id)}`);
  return e;
}

const route = (c: Connection) => ({ id: c.id, tenant: c.tenant, user: c.user });

describe('routing a verified delivery to a connection', () => {
  it('by accountFrom: each user gets the events of their own provider account, never the other one', async () => {
    const a = await deliver('/webhooks/acme', event('acct-A'));
    const b = await deliver('/webhooks/acme', event('acct-B'));
    expect([a.status, a.json['routed'], b.status, b.json['routed']]).toEqual([200, 1, 200, 1]);
    expect((await stored(a.json['id'])).connection).toEqual(route(alice));
    expect((await stored(b.json['id'])).connection).toEqual(route(bob));
    const bobs = await hub.hub.inbox.inbox.list({ user: 'bob', limit: 10_000 });
    expect(bobs.map((e) => e.id)).not.toContain(a.json['id']);
  });

  it('ids past 2^53 are read as sent: two events one apart are both stored, each routed to its own account', async () => {
    const repo = hub.hub.integrations.connections;
    const gina = await repo.link({ tenant: 'default', user: 'gina', integration: 'acme', tokens: tokens(7), scopes: [], accountId: '9007199254740993' });
    const hank = await repo.link({ tenant: 'default', user: 'hank', integration: 'acme', tokens: tokens(6), scopes: [], accountId: '9007199254740992' });
    // Raw literals: JSON.stringify of a number could not write them.
    const body = (n: string) => `{"id":${n},"type":"ticket.updated","account_id":${n}}`;
    const c = await deliver('/webhooks/acme', body('9007199254740993'));
    const d = await deliver('/webhooks/acme', body('9007199254740992'));
    expect([c.status, c.json['duplicate'], c.json['routed'], d.status, d.json['duplicate'], d.json['routed']]).toEqual([200, false, 1, 200, false, 1]);
    expect(c.json['id']).not.toBe(d.json['id']);
    const [ce, de] = [await stored(c.json['id']), await stored(d.json['id'])];
    expect([ce.connection, ce.providerEventId]).toEqual([route(gina), '9007199254740993']);
    expect([de.connection, de.providerEventId]).toEqual([route(hank), '9007199254740992']);
  });

  it('an event for an account nobody linked is kept unroutable and listed, never dropped', async () => {
    const x = await deliver('/webhooks/acme', event('acct-nobody'));
    expect(x).toMatchObject({ status: 200, json: { ok: true, duplicate: false, routed: 0 } });
    expect((await stored(x.json['id'])).connection).toBeNull();
    const unroutable = await hub.hub.inbox.inbox.list({ unroutable: true, integration: 'acme', limit: 10_000 });
    expect(unroutable.map((e) => e.id)).toContain(x.json['id']);
  });

  it('an event that came before its account was linked: a redelivery says routed 0 until the link, then routes it to that user only', async () => {
    const body = event('acct-late');
    const id = `msg_${randomUUID()}`;
    const first = await deliver('/webhooks/acme', body, ACME_SECRET, id);
    const again = await deliver('/webhooks/acme', body, ACME_SECRET, id);
    expect(again.json).toMatchObject({ ok: true, id: first.json['id'], duplicate: true, routed: 0 });
    const repo = hub.hub.integrations.connections;
    const ivy = await repo.link({ tenant: 'default', user: 'ivy', integration: 'acme', tokens: tokens(8), scopes: [], accountId: 'acct-late' });
    const linked = await deliver('/webhooks/acme', body, ACME_SECRET, id);
    expect(linked.json).toMatchObject({ ok: true, duplicate: false, routed: 1 });
    const moved = await stored(linked.json['id']);
    expect([moved.connection, moved.lastError, moved.payload.toString()]).toEqual([route(ivy), null, body]);
    expect(await hub.hub.inbox.inbox.get(String(first.json['id']))).toBeUndefined();
    // Once routed, later copies are its duplicates; nobody else got it.
    expect((await deliver('/webhooks/acme', body, ACME_SECRET, id)).json).toMatchObject({ id: linked.json['id'], duplicate: true, routed: 1 });
    expect((await hub.hub.inbox.inbox.list({ user: 'ivy', limit: 10 })).map((e) => e.id)).toEqual([linked.json['id']]);
    expect((await hub.hub.inbox.inbox.list({ user: 'alice', limit: 10_000 })).map((e) => e.id)).not.toContain(linked.json['id']);
  });

  it('by per-connection endpoint: the endpoint wins over the account in the body; its own secret verifies only its own endpoint', async () => {
    const repo = hub.hub.integrations.connections;
    const endpointA = await repo.ensureEndpoint(alice.id);
    expect(endpointA).toMatch(/^wh_[A-Za-z0-9_-]{24}$/);
    // Asked again, the same id: one endpoint per connection.
    expect(await repo.ensureEndpoint(alice.id)).toBe(endpointA);
    const withSecret = await repo.setWebhookSecret(bob.id, OWN_SECRET);
    expect(withSecret).toMatchObject({ hasWebhookSecret: true, webhookEndpoint: expect.stringMatching(/^wh_/) });
    const endpointB = withSecret!.webhookEndpoint!;
    expect(endpointB).not.toBe(endpointA);

    // The integration's secret on A's endpoint: routed to A even though the body names B's account.
    const onA = await deliver(`/webhooks/acme/${endpointA}`, event('acct-B'));
    expect(onA.status).toBe(200);
    expect(await stored(onA.json['id'])).toMatchObject({ connection: route(alice), endpoint: endpointA });

    // B's own secret: accepted on B's endpoint only.
    const own = await deliver(`/webhooks/acme/${endpointB}`, event('acct-A'), OWN_SECRET);
    expect(own.status).toBe(200);
    expect((await stored(own.json['id'])).connection).toEqual(route(bob));
    for (const path of ['/webhooks/acme', `/webhooks/acme/${endpointA}`]) {
      const refused = await deliver(path, event('acct-B'), OWN_SECRET);
      expect([path, refused.status, (refused.json['error'] as { code: string }).code]).toEqual([path, 401, 'bad_signature']);
    }
    // The secret is sealed at rest, and comes back only through the vault.
    const raw = hub.hub.db.prepare('SELECT webhook_secret FROM connections WHERE id = ?').pluck().get(bob.id) as string;
    expect(raw).not.toContain(OWN_SECRET.slice(6));
    expect(await repo.webhookSecret((await repo.get(bob.id))!)).toBe(OWN_SECRET);

    // A revoked connection's endpoint is gone (404) and its secret forgotten.
    const carol = await repo.link({ tenant: 'default', user: 'carol', integration: 'acme', tokens: tokens(3), scopes: [], accountId: 'acct-C' });
    const endpointC = await repo.ensureEndpoint(carol.id);
    await repo.setWebhookSecret(carol.id, OWN_SECRET);
    await repo.markRevoked(carol.id, 'revoked by the user');
    expect((await deliver(`/webhooks/acme/${endpointC}`, event('acct-C'))).status).toBe(404);
    expect(await repo.get(carol.id)).toMatchObject({ hasWebhookSecret: false, webhookEndpoint: endpointC });
    // And events naming its account are no longer routed to it.
    expect((await deliver('/webhooks/acme', event('acct-C'))).json['routed']).toBe(0);
  });

  it('/connect shows a connection its own webhook URL, and only to its owner', async () => {
    const endpointA = await hub.hub.integrations.connections.ensureEndpoint(alice.id);
    const page = async (user: string) => {
      const browser = new Browser();
      const entry = hub.hub.integrations.accounts.connectUrl({ tenant: 'default', user, scopes: [] });
      const opened = await browser.get(entry);
      expect(opened.status).toBe(303);
      return (await browser.get(locationOf(opened, entry))).text();
    };
    const url = `${new URL(hub.url).origin}/webhooks/acme/${endpointA}`;
    expect(await page('alice')).toContain(`Webhook URL: <code>${url}</code>`);
    expect(await page('bob')).not.toContain(endpointA!);
  });

  it('two connections linked to one provider account each get the event once, and a redelivery is a duplicate for both', async () => {
    const repo = hub.hub.integrations.connections;
    const dave = await repo.link({ tenant: 'default', user: 'dave', integration: 'acme', tokens: tokens(4), scopes: [], accountId: 'acct-shared' });
    const erin = await repo.link({ tenant: 'default', user: 'erin', integration: 'acme', tokens: tokens(5), scopes: [], accountId: 'acct-shared' });
    const body = event('acct-shared');
    const id = `msg_${randomUUID()}`;
    const first = await deliver('/webhooks/acme', body, ACME_SECRET, id);
    expect(first.json).toMatchObject({ ok: true, duplicate: false, routed: 2 });
    const again = await deliver('/webhooks/acme', body, ACME_SECRET, id);
    expect(again.json).toMatchObject({ ok: true, id: first.json['id'], duplicate: true, routed: 2 });
    for (const c of [dave, erin]) expect((await hub.hub.inbox.inbox.list({ user: c.user, limit: 100 })).length).toBe(1);
  });

  it('100 events each delivered 10 times at once over HTTP: 100 stored, each handled exactly once by the worker', async () => {
    const handled = new Map<string, number>();
    const off = hub.hub.inbox.handlers.register('acme', async (e) => {
      handled.set(e.id, (handled.get(e.id) ?? 0) + 1);
    });
    try {
      const deliveries = Array.from({ length: 100 }, (_, i) => {
        const body = event(i % 2 === 0 ? 'acct-A' : 'acct-B', { n: i });
        return { body, headers: standardHeaders(ACME_SECRET, `msg_load_${i}_${randomUUID()}`, body) };
      });
      const answers: { status: number; id: string; delivery: number }[] = [];
      // Ten events at a time, each with its ten copies in flight together: 100 requests at once.
      for (let start = 0; start < 100; start += 10) {
        const batch = deliveries.slice(start, start + 10).flatMap((d, j) => Array.from({ length: 10 }, () => ({ ...d, n: start + j })));
        const got = await Promise.all(
          batch.map(async (d) => {
            const res = await post(hub, '/webhooks/acme', d.body, d.headers);
            return { status: res.status, id: String(((await res.json()) as { id: string }).id), delivery: d.n };
          }),
        );
        answers.push(...got);
      }
      expect(answers.every((a) => a.status === 200)).toBe(true);
      // Every copy of one delivery was answered with the one event id.
      const ids = new Map<number, Set<string>>();
      for (const a of answers) ids.set(a.delivery, (ids.get(a.delivery) ?? new Set()).add(a.id));
      expect([...ids.values()].every((s) => s.size === 1)).toBe(true);
      const eventIds = new Set(answers.map((a) => a.id));
      expect(eventIds.size).toBe(100);
      await eventually(() => [...eventIds].every((id) => handled.has(id)) || undefined);
      await hub.hub.inbox.worker.drain();
      expect([...eventIds].map((id) => handled.get(id))).toEqual(Array(100).fill(1));
      for (const id of eventIds) expect((await stored(id)).state).toBe('done');
    } finally {
      off();
    }
  });
});

describe('when the store cannot keep a delivery', () => {
  it('a verified delivery is a 503 inbox_unavailable with Retry-After, the only 5xx; a refused one is still a 401', async () => {
    const webhooks = webhooksSchema.parse({ scheme: 'standard-webhooks', secrets: [ACME_SECRET] });
    const failing = {
      accept: () => Promise.reject(new HubError('store_failed', 'the inbox could not store 1 deliveries: SQLITE_FULL')),
    };
    const none = {
      byEndpoint: async () => undefined,
      byAccount: async () => [],
      ensureEndpoint: async () => undefined,
      setWebhookSecret: async () => undefined,
      webhookSecret: async () => undefined,
    };
    const server = createServer(
      serveWebhooks(webhookHandler({ integrations: [{ name: 'acme', webhooks }], connections: none, inbox: failing, clock: systemClock, log: silentLogger() })),
    ).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as { port: number };
      const body = event('acct-A');
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/acme`, { method: 'POST', headers: standardHeaders(ACME_SECRET, 'msg_1', body), body });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('10');
      expect(await res.json()).toEqual({ error: { code: 'inbox_unavailable', message: expect.not.stringContaining('SQLITE') } });
      const forged = await fetch(`http://127.0.0.1:${port}/webhooks/acme`, { method: 'POST', headers: standardHeaders(OWN_SECRET, 'msg_2', body), body });
      expect(forged.status).toBe(401);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

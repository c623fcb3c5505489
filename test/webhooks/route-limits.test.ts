/**
 * A verified delivery whose id or type is longer than the inbox keeps is still stored (200), never
 * answered as if the store were down: an over-long id becomes its sha256 digest, so a redelivery is
 * still a duplicate, and an over-long type is cut. Only a store failure is a 503 with Retry-After.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { Connection } from '../../src/connections/types.js';
import { webhooksSchema } from '../../src/definition/webhooks.js';
import { HubError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { InboxIntake } from '../../src/webhooks/inbox/types.js';
import { serveWebhooks, webhookHandler } from '../../src/webhooks/route.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, post, standardHeaders, tokens } from './route-harness.js';

const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

let hub: RunningHub;
let alice: Connection;
let endpoint: string;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
  const repo = hub.hub.integrations.connections;
  alice = await repo.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-A' });
  endpoint = (await repo.ensureEndpoint(alice.id))!;
});
afterAll(() => hub.stop());

async function deliver(path: string, body: string, id: string): Promise<{ status: number; retryAfter: string | null; json: Record<string, unknown> }> {
  const res = await post(hub, path, body, standardHeaders(ACME_SECRET, id, body));
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as Record<string, unknown> };
}

const deliveryIdOf = (eventId: unknown): unknown =>
  hub.hub.db.prepare('SELECT delivery_id FROM webhook_deliveries WHERE event_id = ? ORDER BY received_at').pluck().get(eventId);

describe.each([
  ['the shared route', () => '/webhooks/acme'],
  ['a per-connection endpoint', () => `/webhooks/acme/${endpoint}`],
])('over-long ids and types on %s', (_name, path) => {
  it('a webhook-id of 513 characters is stored under its digest; the same delivery again is a duplicate of it', async () => {
    const id = `msg_${randomUUID()}`.padEnd(513, 'x');
    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'ticket.updated', account_id: 'acct-A' });
    const first = await deliver(path(), body, id);
    expect(first).toMatchObject({ status: 200, retryAfter: null, json: { ok: true, duplicate: false, routed: 1 } });
    expect(deliveryIdOf(first.json['id'])).toBe(digest(id));
    const again = await deliver(path(), body, id);
    expect(again).toMatchObject({ status: 200, json: { ok: true, id: first.json['id'], duplicate: true } });
  });

  it('a body id of 5000 characters becomes the digest provider event id; a redelivery under a new webhook-id is the same event', async () => {
    const eventId = `evt_${randomUUID()}`.padEnd(5000, 'y');
    const body = JSON.stringify({ id: eventId, type: 'ticket.updated', account_id: 'acct-A' });
    const first = await deliver(path(), body, `msg_${randomUUID()}`);
    expect(first).toMatchObject({ status: 200, json: { ok: true, duplicate: false } });
    const stored = await hub.hub.inbox.inbox.get(String(first.json['id']));
    expect(stored).toMatchObject({ providerEventId: digest(eventId), connection: { id: alice.id } });
    // Nothing the provider sent is lost: the payload keeps the whole id.
    expect(JSON.parse(stored!.payload.toString('utf8'))).toMatchObject({ id: eventId });
    const renewed = await deliver(path(), body, `msg_${randomUUID()}`);
    expect(renewed).toMatchObject({ status: 200, json: { id: first.json['id'], duplicate: true } });
  });

  it('a type of 300 characters is stored cut to 256; the payload keeps it whole', async () => {
    const type = `ticket.${'z'.repeat(293)}`;
    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type, account_id: 'acct-A' });
    const res = await deliver(path(), body, `msg_${randomUUID()}`);
    expect(res).toMatchObject({ status: 200, json: { ok: true, duplicate: false } });
    const stored = await hub.hub.inbox.inbox.get(String(res.json['id']));
    expect(stored?.type).toBe(type.slice(0, 256));
    expect(JSON.parse(stored!.payload.toString('utf8'))).toMatchObject({ type });
  });
});

describe('how the route answers what the inbox throws', () => {
  const webhooks = webhooksSchema.parse({ scheme: 'standard-webhooks', secrets: [ACME_SECRET] });
  const none = {
    byEndpoint: async () => undefined,
    byAccount: async () => [],
    ensureEndpoint: async () => undefined,
    setWebhookSecret: async () => undefined,
    webhookSecret: async () => undefined,
  };

  /** One verified delivery to a route whose inbox fails with `err`. */
  async function answerTo(err: unknown): Promise<{ status: number; retryAfter: string | null; json: unknown }> {
    const inbox: InboxIntake = { accept: () => Promise.reject(err) };
    const server = createServer(
      serveWebhooks(webhookHandler({ integrations: [{ name: 'acme', webhooks }], connections: none, inbox, clock: systemClock, log: silentLogger() })),
    ).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as { port: number };
      const body = JSON.stringify({ id: 'evt_1', type: 't' });
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/acme`, { method: 'POST', headers: standardHeaders(ACME_SECRET, 'msg_1', body), body });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), json: await res.json() };
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('a delivery the inbox refuses as given is a 400 bad_body without Retry-After, never inbox_unavailable', async () => {
    const refused = await answerTo(new HubError('invalid_params', 'inbox delivery type: Too small: expected string to have >=1 characters'));
    expect(refused).toEqual({
      status: 400,
      retryAfter: null,
      json: { error: { code: 'bad_body', message: expect.stringContaining('cannot be stored as sent') } },
    });
  });

  it('a store failure, or a driver error from a lookup, is a 503 inbox_unavailable with Retry-After', async () => {
    for (const err of [new HubError('store_failed', 'SQLITE_BUSY'), Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })]) {
      expect(await answerTo(err)).toEqual({
        status: 503,
        retryAfter: '10',
        json: { error: { code: 'inbox_unavailable', message: 'the delivery could not be stored; send it again later' } },
      });
    }
  });

  it("a fault of the hub's own keeps its code (500 internal), without its text or Retry-After", async () => {
    expect(await answerTo(new HubError('internal', 'inbox event evt_x was neither stored nor found'))).toEqual({
      status: 500,
      retryAfter: null,
      json: { error: { code: 'internal', message: 'the delivery could not be stored' } },
    });
  });
});

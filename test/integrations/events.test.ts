import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { EVENTS_ACME, EVENTS_URI, eventsHubBeside, linkReaders } from './events-acme.js';

/**
 * Inbound events reach MCP clients as the subscribable resource `switchboard://events/<integration>`
 * and the tool `<integration>__recent_events`, each identity only its own connections' events —
 * over both protocol eras, with two users side by side. Events enter through the inbox the webhook
 * route and the pollers accept into, and reach clients once the worker has finished them.
 */

interface Seen {
  client: Client;
  updates: string[];
}

let hub: RunningHub;
const open: Client[] = [];

async function connect(token: string, mode: 'auto' | 'legacy'): Promise<Seen> {
  const client = new Client({ name: `events-${mode}`, version: '1.0.0' }, { versionNegotiation: { mode } });
  const updates: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  open.push(client);
  if (mode === 'legacy') await client.subscribeResource({ uri: EVENTS_URI });
  else await client.listen({ resourceSubscriptions: [EVENTS_URI] });
  return { client, updates };
}

let seq = 0;
/** One event for `user`'s connection, as the route or a poller hands it to the inbox. */
async function arrive(user: string, type = 'ticket.updated'): Promise<string> {
  seq++;
  const r = await hub.hub.inbox.inbox.accept({
    integration: 'acme',
    deliveryId: `msg_${seq}`,
    providerEventId: `evt_${seq}`,
    connection: { id: `conn-${user}`, tenant: 'default', user },
    type,
    payload: Buffer.from(JSON.stringify({ id: `evt_${seq}`, type, owner: user })),
  });
  return r.eventId;
}

/** One event of about `bytes` for `user`'s connection. */
async function arriveBig(user: string, bytes: number): Promise<string> {
  seq++;
  const r = await hub.hub.inbox.inbox.accept({
    integration: 'acme',
    deliveryId: `msg_${seq}`,
    connection: { id: `conn-${user}`, tenant: 'default', user },
    type: 'file.uploaded',
    payload: Buffer.from(JSON.stringify({ id: `evt_${seq}`, owner: user, pad: 'x'.repeat(bytes) })),
  });
  return r.eventId;
}

async function recent(c: Client, args: Record<string, unknown> = {}) {
  const r = await c.callTool({ name: 'acme__recent_events', arguments: args });
  expect(r.isError ?? false).toBe(false);
  return r.structuredContent as { events: Array<{ id: string; type: string; payload: { owner: string } }>; next_cursor: string };
}

describe('events as MCP resources and a tool', () => {
  let bobToken: string;

  beforeAll(async () => {
    hub = await startHub({ integrations: { acme: EVENTS_ACME } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
    // Each reader has linked acme: recent_events answers one who never did with the link instead.
    await linkReaders(hub.hub, ['alice', 'bob', 'carol', 'dave']);
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  it('lists the resource and the tool beside the integration', async () => {
    const c = await connect(hub.token, 'auto');
    expect((await c.client.listResources()).resources.map((r) => r.uri)).toContain(EVENTS_URI);
    const tool = (await c.client.listTools()).tools.find((t) => t.name === 'acme__recent_events');
    expect(tool?.annotations?.readOnlyHint).toBe(true);
    // An integration's events are served; a URI nothing serves is left out of the acknowledgement.
    const listen = await c.client.listen({ resourceSubscriptions: [EVENTS_URI, 'switchboard://events/nope'] });
    expect(listen.honoredFilter.resourceSubscriptions).toEqual([EVENTS_URI]);
    await listen.close();
  });

  it("tells each user's clients of their own events only, on both eras", async () => {
    const [alice25, alice26, bob25, bob26] = await Promise.all([
      connect(hub.token, 'legacy'),
      connect(hub.token, 'auto'),
      connect(bobToken, 'legacy'),
      connect(bobToken, 'auto'),
    ]);
    await arrive('alice');
    await eventually(() => alice25.updates.length > 0 && alice26.updates.length > 0);
    expect(alice25.updates).toEqual([EVENTS_URI]);
    expect(alice26.updates).toEqual([EVENTS_URI]);
    // Bob's own event is the barrier: once his clients hear of it, they would have heard of Alice's.
    await arrive('bob');
    await eventually(() => bob25.updates.length > 0 && bob26.updates.length > 0);
    expect(bob25.updates).toEqual([EVENTS_URI]);
    expect(bob26.updates).toEqual([EVENTS_URI]);
    expect(alice25.updates).toEqual([EVENTS_URI]);
    expect(alice26.updates).toEqual([EVENTS_URI]);
  });

  it('reads and lists only the caller’s events, with a cursor for what arrived since', async () => {
    const alice = await connect(hub.token, 'auto');
    const bob = await connect(bobToken, 'legacy');
    const first = await recent(alice.client);
    expect(first.events.length).toBeGreaterThan(0);
    expect(first.events.every((e) => e.payload.owner === 'alice')).toBe(true);
    expect((await recent(bob.client)).events.every((e) => e.payload.owner === 'bob')).toBe(true);

    const later = await arrive('alice', 'ticket.created');
    await arrive('bob', 'ticket.created');
    const since = await recent(alice.client, { after: first.next_cursor });
    expect(since.events.map((e) => e.id)).toEqual([later]);
    expect((await recent(alice.client, { after: since.next_cursor })).events).toEqual([]);
    expect((await recent(alice.client, { type: 'ticket.created' })).events.map((e) => e.id)).toEqual([later]);

    const read = await bob.client.readResource({ uri: EVENTS_URI });
    const body = JSON.parse((read.contents[0] as { text: string }).text) as { events: Array<{ payload: { owner: string } }> };
    expect(body.events.length).toBeGreaterThan(0);
    expect(body.events.every((e) => e.payload.owner === 'bob')).toBe(true);
  });

  it('a body that is not UTF-8 text reaches the client as the provider sent it, in base64, marked so', async () => {
    const dave = await connect((await hub.hub.tokens.create({ user: 'dave' })).token, 'legacy');
    const bytes = Buffer.from([0xff, 0xfe, 0x7b, 0x7d]);
    await hub.hub.inbox.inbox.accept({
      integration: 'acme',
      deliveryId: `msg_bytes_${++seq}`,
      connection: { id: 'conn-dave', tenant: 'default', user: 'dave' },
      type: 'blob',
      payload: bytes,
    });
    const got = await eventually(async () => {
      const r = (await recent(dave.client)) as unknown as { events: Array<{ payload: unknown; payloadEncoding?: string }> };
      return r.events[0];
    });
    expect(got.payloadEncoding).toBe('base64');
    expect(Buffer.from(got.payload as string, 'base64').equals(bytes)).toBe(true);
    // Text keeps its shape, unmarked.
    await arrive('dave');
    const both = (await recent(dave.client)) as unknown as { events: Array<{ payloadEncoding?: string }> };
    expect(both.events.map((e) => e.payloadEncoding)).toEqual(['base64', undefined]);
  });

  it('pages of large events stay within 4 MiB: the cursor goes on where a page stopped, the latest and the resource keep the newest', async () => {
    const carol = await connect((await hub.hub.tokens.create({ user: 'carol' })).token, 'auto');
    const bob = await connect(bobToken, 'auto');
    const start = (await recent(carol.client)).next_cursor;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await arriveBig('carol', 1_500_000));
    await arrive('bob');
    const seen: string[][] = [];
    let cursor = start;
    for (let n = 0; n < 5; n++) {
      const page = await recent(carol.client, { after: cursor });
      if (page.events.length === 0) break;
      seen.push(page.events.map((e) => e.id));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    const latest = await recent(carol.client);
    expect(latest.events.map((e) => e.id)).toEqual(ids.slice(3));
    expect((await recent(carol.client, { after: latest.next_cursor })).events).toEqual([]);
    const read = await carol.client.readResource({ uri: EVENTS_URI });
    const body = JSON.parse((read.contents[0] as { text: string }).text) as { events: Array<{ id: string }>; next_cursor: string };
    expect([body.events.map((e) => e.id), body.next_cursor]).toEqual([ids.slice(3), latest.next_cursor]);
    // Bob's page is his own, and whole.
    expect((await recent(bob.client)).events.every((e) => e.payload.owner === 'bob')).toBe(true);
  });

  it('refuses a cursor it did not hand out and undeclared arguments', async () => {
    const alice = await connect(hub.token, 'auto');
    expect(argumentRefusal(await alice.client.callTool({ name: 'acme__recent_events', arguments: { after: 'x; DROP TABLE' } }))).toMatch(/cursor/);
    expect(argumentRefusal(await alice.client.callTool({ name: 'acme__recent_events', arguments: { since: 1 } }))).toMatch(/since/);
  });

  it('a subscription to a resource nothing serves is refused as resources/read refuses it; ending one is no mistake', async () => {
    const alice = await connect(hub.token, 'legacy');
    for (const uri of ['switchboard://events/nope', 'switchboard://events/', `${EVENTS_URI}?x=1`, EVENTS_URI.toUpperCase()]) {
      const read = await alice.client.readResource({ uri }).then(
        () => 'read',
        (err: { code?: number; message?: string }) => err.code,
      );
      const sub = await alice.client.subscribeResource({ uri }).then(
        () => 'subscribed',
        (err: { code?: number; message?: string }) => [err.code, err.message],
      );
      expect([uri, sub]).toEqual([uri, [read, expect.stringContaining('Resource not found')]]);
    }
    await expect(alice.client.unsubscribeResource({ uri: 'switchboard://events/nope' })).resolves.toEqual({});
  });
});

describe('events another process on the data dir finished', () => {
  it('reach this process’s subscribers once, naming only their owner', { timeout: 30_000 }, async () => {
    const a = await startHub({ integrations: { acme: EVENTS_ACME } });
    // A second hub on the same files, as a stdio hub beside the serve that takes the webhooks.
    const b = await eventsHubBeside(a.dataDir);
    const heardByB: Array<{ uri: string; users: string[] }> = [];
    const heardByA: string[] = [];
    b.catalog.onResourceUpdated((uri, identities) => void heardByB.push({ uri, users: (identities ?? []).map((i) => i.user) }));
    a.hub.catalog.onResourceUpdated((uri) => void heardByA.push(uri));
    try {
      // Only A's worker gets to it: B's would otherwise claim it first half of the time.
      await b.inbox.worker.stop();
      await a.hub.inbox.inbox.accept({
        integration: 'acme',
        deliveryId: 'msg_elsewhere',
        connection: { id: 'conn-alice', tenant: 'default', user: 'alice' },
        type: 'ticket.updated',
        payload: Buffer.from('{"owner":"alice"}'),
      });
      await eventually(() => heardByB.length > 0);
      expect(heardByB).toEqual([{ uri: EVENTS_URI, users: ['alice'] }]);
      // A heard of its own event once: from its worker, not again from its watch of the store.
      await eventually(() => heardByA.length > 0);
      // A's watch of the store runs every second: past one of its looks, it has seen the event too.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(heardByA).toEqual([EVENTS_URI]);
      expect(heardByB).toHaveLength(1);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});

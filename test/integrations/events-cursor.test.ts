import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../src/hub.js';
import { argumentRefusal } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { EVENTS_ACME, EVENTS_URI, eventsHubBeside, linkReaders } from './events-acme.js';

/**
 * The next_cursor of `recent_events` and of the events resource tells a user nothing of other
 * users' events. The inbox's own cursor is its global insertion order: two of alice's cursors
 * told her how many events everyone else received in between, and any guessed one was read.
 * What clients see now is sealed and bound to (tenant, user, integration).
 */

const REFUSED = /^after: not a cursor from recent_events/;
const SEALED = /^c1\.[A-Za-z0-9_-]{22}$/;

type Page = { events: Array<{ id: string; payload: { owner: string; n: number } }>; next_cursor: string };

const open: Client[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
});

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'cursor', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  open.push(client);
  return client;
}

async function recent(c: Client, args: Record<string, unknown> = {}, tool = 'acme__recent_events'): Promise<Page> {
  const r = await c.callTool({ name: tool, arguments: args });
  expect(r.isError ?? false).toBe(false);
  return r.structuredContent as Page;
}

const refusal = async (c: Client, after: string, tool = 'acme__recent_events') => argumentRefusal(await c.callTool({ name: tool, arguments: { after } }));

let delivery = 0;
/** One event for `user`'s connection of `integration`, as the webhook route hands it to the inbox. */
async function arrive(hub: Hub, user: string, n: number, opts: { tenant?: string; integration?: string } = {}): Promise<string> {
  const tenant = opts.tenant ?? 'default';
  const r = await hub.inbox.inbox.accept({
    integration: opts.integration ?? 'acme',
    deliveryId: `msg_${++delivery}`,
    connection: { id: `conn-${tenant}-${user}`, tenant, user },
    type: 'ticket.updated',
    payload: Buffer.from(JSON.stringify({ owner: user, n })),
  });
  return r.eventId;
}

describe("alice's cursors do not tell how many events bob received", () => {
  /**
   * One world: alice reads, bob receives `bobs` events, alice receives one, alice reads on. What
   * alice can see of her cursors without the hub's key must not depend on `bobs`.
   */
  async function world(bobs: number) {
    const hub = await startHub({ integrations: { acme: EVENTS_ACME } });
    try {
      await linkReaders(hub.hub, ['alice', 'bob']);
      const alice = await connect(hub.url, hub.token);
      await arrive(hub.hub, 'alice', 1);
      await arrive(hub.hub, 'bob', 0);
      const first = await recent(alice);
      for (let i = 0; i < bobs; i++) await arrive(hub.hub, 'bob', i);
      const mine = await arrive(hub.hub, 'alice', 2);
      const second = await recent(alice, { after: first.next_cursor });
      expect(second.events.map((e) => e.id)).toEqual([mine]);
      const again = await recent(alice, { after: second.next_cursor });
      expect(again).toEqual({ events: [], next_cursor: second.next_cursor });
      const cursors = [first.next_cursor, second.next_cursor];
      // What an observer without the key has: each cursor's shape (length, alphabet) and which are equal.
      return { shapes: cursors.map((c) => c.replace(/[A-Za-z0-9_-]/g, 'x')), sealed: cursors.map((c) => SEALED.test(c)), distinct: new Set(cursors).size };
    } finally {
      await hub.stop();
    }
  }

  it('bob receiving 0 or 50 events in between gives alice cursors alike', { timeout: 30_000 }, async () => {
    const none = await world(0);
    const fifty = await world(50);
    expect(none).toEqual({ shapes: ['xx.xxxxxxxxxxxxxxxxxxxxxx', 'xx.xxxxxxxxxxxxxxxxxxxxxx'], sealed: [true, true], distinct: 2 });
    expect(fifty).toEqual(none);
  });
});

describe('sealed cursors on one hub, two users, two tenants, two integrations', () => {
  let hub: RunningHub;
  let alice: Client;
  let bob: Client;
  let otherAlice: Client;

  beforeAll(async () => {
    hub = await startHub({ integrations: { acme: EVENTS_ACME, beta: EVENTS_ACME } });
    await linkReaders(hub.hub, ['alice', 'bob', 'other/alice'], ['acme', 'beta']);
    alice = await connect(hub.url, hub.token);
    bob = await connect(hub.url, (await hub.hub.tokens.create({ user: 'bob' })).token);
    // Same user name in another tenant: another owner.
    otherAlice = await connect(hub.url, (await hub.hub.tokens.create({ user: 'alice', tenant: 'other' })).token);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('paging with a small limit returns each of alice’s events once, in order, amid bob’s', async () => {
    const start = (await recent(alice)).next_cursor;
    expect(start).toMatch(SEALED);
    const ids: string[] = [];
    for (let n = 0; n < 7; n++) {
      ids.push(await arrive(hub.hub, 'alice', n));
      await arrive(hub.hub, 'bob', n);
      await arrive(hub.hub, 'alice', n, { tenant: 'other' });
    }
    const seen: string[] = [];
    let cursor = start;
    for (let page = 0; page < 10; page++) {
      const got = await recent(alice, { after: cursor, limit: 2 });
      expect(got.next_cursor).toMatch(SEALED);
      if (got.events.length === 0) {
        expect(got.next_cursor).toBe(cursor);
        break;
      }
      expect(got.events.every((e) => e.payload.owner === 'alice')).toBe(true);
      seen.push(...got.events.map((e) => e.id));
      cursor = got.next_cursor;
    }
    expect(seen).toEqual(ids);
    // The resource's cursor is the tool's: sealed, and read on from by the tool.
    const read = await alice.readResource({ uri: EVENTS_URI });
    const body = JSON.parse((read.contents[0] as { text: string }).text) as Page;
    expect(body.next_cursor).toBe(cursor);
    expect(await recent(alice, { after: body.next_cursor })).toEqual({ events: [], next_cursor: cursor });
  });

  it("alice's cursor is refused for bob, for alice of another tenant, and for another integration", async () => {
    await arrive(hub.hub, 'alice', 100);
    await arrive(hub.hub, 'alice', 100, { integration: 'beta' });
    const cursor = (await recent(alice)).next_cursor;
    const resource = JSON.parse(((await alice.readResource({ uri: EVENTS_URI })).contents[0] as { text: string }).text) as Page;
    for (const c of [cursor, resource.next_cursor]) {
      expect(await refusal(bob, c)).toMatch(REFUSED);
      expect(await refusal(otherAlice, c)).toMatch(REFUSED);
      expect(await refusal(alice, c, 'beta__recent_events')).toMatch(REFUSED);
      expect((await recent(alice, { after: c })).next_cursor).toBe(c);
    }
    // Bob's own cursor is his: alice cannot use it either.
    expect(await refusal(alice, (await recent(bob)).next_cursor)).toMatch(REFUSED);
  });

  it('an altered or made-up cursor is refused', async () => {
    await arrive(hub.hub, 'alice', 200);
    const cursor = (await recent(alice)).next_cursor;
    const body = cursor.slice(3);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const altered = [
      ...[0, 5, 10, 15, 20].map((i) => `c1.${flip(body, i)}`),
      // The last character's spare bits: the same bytes spelled another way.
      `c1.${body.slice(0, 21)}${String.fromCharCode(body.charCodeAt(21) ^ 1)}`,
      `c2.${body}`,
      `c1.${body.slice(0, 21)}`,
      `${cursor}A`,
      `c1.${'A'.repeat(22)}`,
      'x; DROP TABLE',
      '',
    ];
    for (const c of altered) expect([c, await refusal(alice, c)]).toEqual([c, expect.stringMatching(REFUSED)]);
  });

  it("a raw cursor, one from before cursors were sealed too, is refused: probing positions would find each event's place in everyone's order", async () => {
    const raw = (await hub.hub.store.eventReads.recent({ tenant: 'default', user: 'alice', integration: 'acme', limit: 1 })).nextCursor;
    expect(raw).toMatch(/^e[0-9a-z]+$/);
    for (const c of [raw, 'e0', 'e1', 'ezzz']) expect([c, await refusal(alice, c)]).toEqual([c, expect.stringMatching(REFUSED)]);
    // What such a client does instead: read the latest, whose cursor is sealed and reads on.
    const latest = await recent(alice);
    const later = await arrive(hub.hub, 'alice', 300);
    expect((await recent(alice, { after: latest.next_cursor })).events.map((e) => e.id)).toEqual([later]);
  });
});

describe('a second process on the same data dir', () => {
  it('reads on from a cursor the first handed out, and refuses it for another user', { timeout: 30_000 }, async () => {
    const a = await startHub({ integrations: { acme: EVENTS_ACME } });
    const b = await eventsHubBeside(a.dataDir);
    try {
      const bListen = await b.listen();
      await linkReaders(a.hub, ['alice', 'bob']);
      const bobToken = (await a.hub.tokens.create({ user: 'bob' })).token;
      await arrive(a.hub, 'alice', 1);
      const cursor = (await recent(await connect(a.url, a.token))).next_cursor;
      const mine = await arrive(a.hub, 'alice', 2);
      await arrive(a.hub, 'bob', 2);
      const onB = await connect(bListen.url, a.token);
      const page = await recent(onB, { after: cursor });
      expect(page.events.map((e) => e.id)).toEqual([mine]);
      // Both processes seal alike: A reads on from B's cursor to the same empty answer.
      expect(await recent(await connect(a.url, a.token), { after: page.next_cursor })).toEqual({ events: [], next_cursor: page.next_cursor });
      expect(await refusal(await connect(bListen.url, bobToken), cursor)).toMatch(REFUSED);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});

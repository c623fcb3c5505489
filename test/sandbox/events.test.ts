import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxEvent } from '../../servers/sandbox/index.js';
import { T0, api, link, startSandbox, type Harness } from './harness.js';

interface Feed {
  events: SandboxEvent[];
  next_cursor: string;
  has_more: boolean;
}

async function feed(h: Harness, token: string, query: string): Promise<Feed> {
  const res = await api(h, 'GET', `/events${query}`, token);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Feed;
}

describe('sandbox events feed', () => {
  let h: Harness;
  let alice: string;
  beforeEach(async () => {
    h = await startSandbox({ rateLimit: { perSecond: 1000, burst: 1000 } });
    alice = (await link(h, 'alice')).access_token;
  });
  afterEach(() => h.close());

  const create = async (title: string, token = alice): Promise<string> =>
    ((await (await api(h, 'POST', '/tickets', token, { title })).json()) as { id: string }).id;

  it('logs created, updated and deleted in order, each with the ticket as it was then', async () => {
    const empty = await api(h, 'GET', '/events', alice);
    expect(empty.headers.get('x-ratelimit-limit')).toBe('1000');
    const start = (await empty.json()) as Feed;
    expect(start).toEqual({ events: [], next_cursor: expect.any(String), has_more: false });

    const id = await create('Printer on fire');
    h.clock.advance(5_000);
    const patched = await (await api(h, 'PATCH', `/tickets/${id}`, alice, { status: 'closed' })).json();
    h.clock.advance(1_000);
    expect((await api(h, 'DELETE', `/tickets/${id}`, alice)).status).toBe(204);

    const page = await feed(h, alice, `?after=${start.next_cursor}`);
    const at = (ms: number): string => new Date(T0 + ms).toISOString();
    const ticket = { id, title: 'Printer on fire', body: '', priority: 'normal', status: 'open', created_at: at(0), updated_at: at(0) };
    expect(page.events).toEqual([
      { id: expect.stringMatching(/^evt_[\w-]{12}$/), type: 'ticket.created', account_id: 'alice', occurred_at: at(0), data: { ticket } },
      { id: expect.any(String), type: 'ticket.updated', account_id: 'alice', occurred_at: at(5_000), data: { ticket: patched } },
      { id: expect.any(String), type: 'ticket.deleted', account_id: 'alice', occurred_at: at(6_000), data: { ticket: patched } },
    ]);
    expect(new Set(page.events.map((e) => e.id)).size).toBe(3);
    expect(page.has_more).toBe(false);

    // A change that matched nothing logs nothing.
    expect((await api(h, 'PATCH', `/tickets/${id}`, alice, { status: 'open' })).status).toBe(404);
    expect((await api(h, 'DELETE', `/tickets/${id}`, alice)).status).toBe(404);
    expect(await feed(h, alice, `?after=${page.next_cursor}`)).toEqual({ events: [], next_cursor: page.next_cursor, has_more: false });
  });

  it('walks every event with the after cursor: no loss, no repeat, and resumes where it stopped', async () => {
    const made: string[] = [];
    for (let i = 0; i < 23; i++) made.push(await create(`t${i}`));
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor = '';
    let more = true;
    while (more) {
      const page = await feed(h, alice, `?limit=10${cursor ? `&after=${cursor}` : ''}`);
      sizes.push(page.events.length);
      seen.push(...page.events.map((e) => e.data.ticket.id));
      cursor = page.next_cursor;
      more = page.has_more;
    }
    expect(sizes).toEqual([10, 10, 3]);
    expect(seen).toEqual(made);

    // The last cursor is where a poller waits: new changes appear there, and only they.
    expect((await feed(h, alice, `?after=${cursor}`)).events).toEqual([]);
    const late = await create('late');
    const next = await feed(h, alice, `?after=${cursor}`);
    expect(next.events.map((e) => [e.type, e.data.ticket.id])).toEqual([['ticket.created', late]]);
    expect((await feed(h, alice, '?limit=100')).events).toHaveLength(24);
    expect((await feed(h, alice, '')).events).toHaveLength(24);
  });

  it('since: a page ending inside a run of one timestamp loses rows to an exclusive client, none to an inclusive one', async () => {
    // Timestamps A A A B B B C: the first page of 4 ends inside the run of B.
    const ids: string[] = [];
    for (const step of [0, 0, 0, 1_000, 0, 0, 1_000]) {
      h.clock.advance(step);
      ids.push(await create(`t${ids.length}`));
    }
    const limit = 4;
    const first = await feed(h, alice, `?since=0&limit=${limit}`);
    expect(first.events.map((e) => e.data.ticket.id)).toEqual(ids.slice(0, 4));
    expect(first.has_more).toBe(true);
    const lastAt = Date.parse(first.events.at(-1)!.occurred_at);

    // Exclusive: resume just after the last timestamp seen — the rest of B's run is gone.
    const exclusive = await feed(h, alice, `?since=${lastAt + 1}&limit=${limit}`);
    expect(exclusive.events.map((e) => e.data.ticket.id)).toEqual([ids[6]]);

    // Inclusive: resume at the last timestamp (ISO form), drop ids already seen.
    const seen = new Map(first.events.map((e) => [e.id, e.data.ticket.id]));
    let since = first.events.at(-1)!.occurred_at;
    for (let fresh = true; fresh; ) {
      const page = await feed(h, alice, `?since=${encodeURIComponent(since)}&limit=${limit}`);
      expect(page.events[0]!.occurred_at).toBe(since);
      fresh = false;
      for (const e of page.events) {
        if (seen.has(e.id)) continue;
        seen.set(e.id, e.data.ticket.id);
        fresh = true;
      }
      since = page.events.at(-1)!.occurred_at;
    }
    expect([...seen.values()]).toEqual(ids);

    // The cursor of a since page is an after cursor: it resumes by sequence behind the page.
    expect((await feed(h, alice, `?after=${first.next_cursor}`)).events.map((e) => e.data.ticket.id)).toEqual(ids.slice(4));
    // Past the end: an empty page whose cursor resumes behind everything logged.
    const beyond = await feed(h, alice, `?since=${new Date(T0 + 60_000).toISOString()}`);
    expect(beyond.events).toEqual([]);
    const after = await create('after');
    expect((await feed(h, alice, `?after=${beyond.next_cursor}`)).events.map((e) => e.data.ticket.id)).toEqual([after]);
  });

  it("keeps each account's events to itself", async () => {
    const bob = (await link(h, 'bob')).access_token;
    const mine = await create('alice 1');
    const theirs = await create('bob 1', bob);
    await create('alice 2');
    expect((await feed(h, bob, '')).events.map((e) => [e.account_id, e.data.ticket.id])).toEqual([['bob', theirs]]);
    const own = (await feed(h, alice, '')).events;
    expect(own.map((e) => e.account_id)).toEqual(['alice', 'alice']);
    expect(own[0]!.data.ticket.id).toBe(mine);
    // Alice's cursor read with Bob's token still shows only Bob's events.
    const cursor = (await feed(h, alice, '?limit=1')).next_cursor;
    expect((await feed(h, bob, `?after=${cursor}`)).events.map((e) => e.data.ticket.id)).toEqual([theirs]);
  });

  it.each([
    ['?limit=0', 'limit: Too small: expected number to be >=1'],
    ['?limit=101', 'limit: Too big: expected number to be <=100'],
    [`?after=${Buffer.from('b:1').toString('base64url')}`, 'after: not a cursor from this API'],
    ['?after=no%20spaces', 'after: not a cursor from this API'],
    ['?since=yesterday', 'since: expected an ISO 8601 date-time or milliseconds since the epoch'],
    ['?since=2026-04-01T12:00:00', 'since: expected an ISO 8601 date-time or milliseconds since the epoch'],
    [`?since=0&after=${Buffer.from('a:1').toString('base64url')}`, 'pass after or since, not both'],
    ['?cursor=abc', 'Unrecognized key: "cursor"'],
  ])('answers 400 invalid_request for %s', async (query, message) => {
    const res = await api(h, 'GET', `/events${query}`, alice);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_request', message } });
  });

  it('needs the read scope and a valid token', async () => {
    const writer = (await link(h, 'carol', { scope: 'write' })).access_token;
    const res = await api(h, 'GET', '/events', writer);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('scope="read"');
    expect((await api(h, 'GET', '/events', null)).status).toBe(401);
  });
});

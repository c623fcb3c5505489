import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { T0, api, link, startSandbox, type Harness } from './harness.js';

interface Ticket {
  id: string;
  title: string;
  body: string;
  priority: string;
  status: string;
  created_at: string;
  updated_at: string;
}

describe('sandbox tickets API', () => {
  let h: Harness;
  let alice: string;
  beforeEach(async () => {
    // A large bucket keeps these tests about the API, not the rate limit.
    h = await startSandbox({ rateLimit: { perSecond: 1000, burst: 1000 } });
    alice = (await link(h, 'alice')).access_token;
  });
  afterEach(() => h.close());

  it('creates, reads, updates and deletes a ticket', async () => {
    const created = await api(h, 'POST', '/tickets', alice, { title: '  Printer on fire ', priority: 'urgent' });
    expect(created.status).toBe(201);
    const t = (await created.json()) as Ticket;
    const at = new Date(T0).toISOString();
    expect(t).toEqual({
      id: expect.stringMatching(/^tkt_[\w-]{12}$/),
      title: 'Printer on fire',
      body: '',
      priority: 'urgent',
      status: 'open',
      created_at: at,
      updated_at: at,
    });
    expect(created.headers.get('location')).toBe(`/sandbox/api/tickets/${t.id}`);

    expect(await (await api(h, 'GET', `/tickets/${t.id}`, alice)).json()).toEqual(t);

    h.clock.advance(5_000);
    const patched = await api(h, 'PATCH', `/tickets/${t.id}`, alice, { status: 'closed', body: 'put out' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toEqual({ ...t, status: 'closed', body: 'put out', updated_at: new Date(T0 + 5_000).toISOString() });

    const deleted = await api(h, 'DELETE', `/tickets/${t.id}`, alice);
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    const gone = await api(h, 'GET', `/tickets/${t.id}`, alice);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: { code: 'not_found', message: `no ticket ${t.id}` } });
    expect((await api(h, 'DELETE', `/tickets/${t.id}`, alice)).status).toBe(404);
  });

  it('walks every ticket newest first with cursor pagination', async () => {
    const made: string[] = [];
    for (let i = 0; i < 23; i++) made.push(((await (await api(h, 'POST', '/tickets', alice, { title: `t${i}` })).json()) as Ticket).id);
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(h, 'GET', `/tickets?limit=10${cursor ? `&cursor=${cursor}` : ''}`, alice);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { tickets: Ticket[]; next_cursor: string | null };
      sizes.push(page.tickets.length);
      seen.push(...page.tickets.map((t) => t.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(sizes).toEqual([10, 10, 3]);
    expect(seen).toEqual([...made].reverse());

    const exact = (await (await api(h, 'GET', '/tickets?limit=23', alice)).json()) as { tickets: Ticket[]; next_cursor: string | null };
    expect(exact.tickets).toHaveLength(23);
    expect(exact.next_cursor).toBeNull();
    const dflt = (await (await api(h, 'GET', '/tickets', alice)).json()) as { tickets: Ticket[] };
    expect(dflt.tickets).toHaveLength(20);
  });

  it.each([
    ['POST', '/tickets', {}, 'title: Invalid input: expected string, received undefined'],
    ['POST', '/tickets', { title: '   ' }, 'title: Too small: expected string to have >=1 characters'],
    ['POST', '/tickets', { title: 'x', priority: 'meh' }, 'priority: Invalid option: expected one of "low"|"normal"|"high"|"urgent"'],
    ['POST', '/tickets', { title: 'x', asignee: 'bob' }, 'Unrecognized key: "asignee"'],
    ['POST', '/tickets', [], 'Invalid input: expected object, received array'],
    ['PATCH', '/tickets/ID', {}, 'at least one of title, body, priority, status is required'],
    ['PATCH', '/tickets/ID', { status: 'done' }, 'status: Invalid option: expected one of "open"|"pending"|"closed"'],
  ])('answers 400 for a bad body: %s %s %j', async (method, path, body, message) => {
    const id = ((await (await api(h, 'POST', '/tickets', alice, { title: 'x' })).json()) as Ticket).id;
    const res = await api(h, method, path.replace('ID', id), alice, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_request', message } });
  });

  it('answers 400 for invalid JSON, a bad limit and a forged cursor', async () => {
    const json = await api(h, 'POST', '/tickets', alice, '{"title": ');
    expect(json.status).toBe(400);
    expect(await json.json()).toEqual({ error: { code: 'invalid_json', message: 'the body is not valid JSON' } });
    const limit = await api(h, 'GET', '/tickets?limit=0', alice);
    expect(limit.status).toBe(400);
    expect(((await limit.json()) as { error: { message: string } }).error.message).toMatch(/^limit: /);
    const cursor = await api(h, 'GET', `/tickets?cursor=${Buffer.from('x:1').toString('base64url')}`, alice);
    expect(cursor.status).toBe(400);
    expect(await cursor.json()).toEqual({ error: { code: 'invalid_request', message: 'cursor: not a cursor from this API' } });
  });

  it("keeps each account's tickets to itself", async () => {
    const t = (await (await api(h, 'POST', '/tickets', alice, { title: 'mine' })).json()) as Ticket;
    const bob = (await link(h, 'bob')).access_token;
    expect((await api(h, 'GET', `/tickets/${t.id}`, bob)).status).toBe(404);
    expect((await api(h, 'PATCH', `/tickets/${t.id}`, bob, { status: 'closed' })).status).toBe(404);
    expect((await api(h, 'DELETE', `/tickets/${t.id}`, bob)).status).toBe(404);
    expect(await (await api(h, 'GET', '/tickets', bob)).json()).toEqual({ tickets: [], next_cursor: null });
    expect(((await (await api(h, 'GET', `/tickets/${t.id}`, alice)).json()) as Ticket).status).toBe('open');
  });

  it('challenges a request without a token (RFC 6750 §3.1: no error code) and with a bad one', async () => {
    const none = await api(h, 'GET', '/tickets', null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sandbox"');
    const bad = await api(h, 'GET', '/tickets', 'sbx_at_made-up');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="sandbox", error="invalid_token", error_description="The access token is not valid"');
    expect(await bad.json()).toEqual({ error: { code: 'invalid_token', message: 'The access token is not valid' } });
    const query = await fetch(`${h.issuer}/api/tickets?access_token=${alice}`);
    expect(query.status).toBe(401);
  });

  it('answers 401 invalid_token once the access token expires', async () => {
    h.clock.advance(3_600_000 - 1);
    expect((await api(h, 'GET', '/me', alice)).status).toBe(200);
    h.clock.advance(1);
    const res = await api(h, 'GET', '/me', alice);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sandbox", error="invalid_token", error_description="The access token expired"');
  });

  it('answers 403 insufficient_scope for a write with a read-only token', async () => {
    const reader = (await link(h, 'carol', { scope: 'read' })).access_token;
    expect((await api(h, 'GET', '/tickets', reader)).status).toBe(200);
    const res = await api(h, 'POST', '/tickets', reader, { title: 'x' });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="sandbox", error="insufficient_scope", error_description="The access token lacks the write scope", scope="write"',
    );
    expect(await (await api(h, 'GET', '/tickets', reader)).json()).toEqual({ tickets: [], next_cursor: null });
  });
});

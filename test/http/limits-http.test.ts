import { Client, StreamableHTTPClientTransport, type McpSubscription } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { LIMIT_REACHED } from '../../src/mcp/identity-limits.js';
import { connectClient, textOf, type ClientKind, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ping, rawInitialize } from '../helpers/raw-mcp.js';

const LIMITS = { sessionsPerIdentity: 3, streamsPerIdentity: 3 };
const SIMPLE = { content: [{ type: 'text', text: 'This is a simple text response for testing.' }], structuredContent: undefined, isError: false };

function limitBody(limit: 'sessionsPerIdentity' | 'streamsPerIdentity', id: string | number | null, hint: string): unknown {
  const what = limit === 'sessionsPerIdentity' ? 'sessions' : 'streams';
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: LIMIT_REACHED,
      message: `Too many open ${what} for this identity: the limit is 3 (server.limits.${limit}). ${hint}`,
      data: { code: 'limit_reached', limit, setting: `server.limits.${limit}`, max: 3 },
    },
  };
}

const STREAMS_REFUSED = /"code":-32029,"message":"Too many open streams for this identity: the limit is 3 \(server\.limits\.streamsPerIdentity\)/;
const SESSION_HINT = 'Every open session is in use; close one (DELETE /mcp with its Mcp-Session-Id) first.';

/** A 2026 client whose requests are recorded, so a test can replay its subscriptions/listen by hand. */
async function modernClient(url: string, token: string): Promise<{ client: Client; sent: Array<{ headers: Headers; body: string }> }> {
  const sent: Array<{ headers: Headers; body: string }> = [];
  const client = new Client({ name: 'limits', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: async (input, init) => {
        if (typeof init?.body === 'string') sent.push({ headers: new Headers(init.headers), body: init.body });
        return fetch(input, init);
      },
    }),
  );
  expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  return { client, sent };
}

describe('server.limits in the config', () => {
  it('defaults to 100 sessions, 100 streams and 100 requests in flight per identity', () => {
    // With the connection limits that share server.limits (src/http/limits.ts).
    const connection = { headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, maxConnections: 512 };
    expect(configSchema.parse({}).server.limits).toEqual({ sessionsPerIdentity: 100, streamsPerIdentity: 100, requestsPerIdentity: 100, ...connection });
    expect(configSchema.parse({ server: { limits: { streamsPerIdentity: 3 } } }).server.limits).toEqual({
      sessionsPerIdentity: 100,
      streamsPerIdentity: 3,
      requestsPerIdentity: 100,
      ...connection,
    });
  });

  it('refuses values that are not positive integers within the hub-wide caps, and unknown keys', () => {
    const issues = (limits: unknown) => configSchema.safeParse({ server: { limits } }).error?.issues.map((i) => ({ path: i.path.join('.'), code: i.code }));
    expect(issues({ sessionsPerIdentity: 0 })).toEqual([{ path: 'server.limits.sessionsPerIdentity', code: 'too_small' }]);
    expect(issues({ streamsPerIdentity: 2.5 })).toEqual([{ path: 'server.limits.streamsPerIdentity', code: 'invalid_type' }]);
    expect(issues({ streamsPerIdentity: 10_000 })).toEqual([{ path: 'server.limits.streamsPerIdentity', code: 'too_big' }]);
    expect(issues({ sessions: 5 })).toEqual([{ path: 'server.limits', code: 'unrecognized_keys' }]);
  });
});

describe('per-identity limits over HTTP', () => {
  let h: RunningHub;
  let bobToken: string;
  let users = 0;
  const clock = manualClock(Date.now());
  const open: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    h = await startHub({ fixtures: { conformance: true }, server: { limits: LIMITS } }, { clock });
    bobToken = (await h.hub.tokens.create({ user: 'bob' })).token;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
  });
  afterAll(async () => h?.stop());

  /** Each test's first user is new, so sessions a test leaves behind never count against the next. */
  async function newUser(): Promise<string> {
    return (await h.hub.tokens.create({ user: `alice-${++users}` })).token;
  }

  async function client(kind: ClientKind, token: string): Promise<FaceClient> {
    const c = await connectClient(kind, { transport: 'http', url: h.url, token });
    open.push(c);
    return c;
  }

  it('refuses a fourth 2025 session of one identity with 429 while another identity connects and calls tools', async () => {
    const token = await newUser();
    // Real clients hold their sessions (and their GET streams) open: none of them may be evicted.
    const alice = [await client('v2-legacy', token), await client('v1', token), await client('v2-legacy', token)];
    const refused = await rawInitialize(h.url, token, 7);
    expect({ status: refused.status, sessionId: refused.sessionId, body: JSON.parse(refused.body) as unknown }).toEqual({
      status: 429,
      sessionId: null,
      body: limitBody('sessionsPerIdentity', 7, SESSION_HINT),
    });
    // What the 1.x client (Claude Desktop's) shows its user.
    await expect(connectClient('v1', { transport: 'http', url: h.url, token })).rejects.toThrow(
      /"code":-32029,"message":"Too many open sessions for this identity: the limit is 3 \(server\.limits\.sessionsPerIdentity\)/,
    );
    // Even after the idle window: every one of alice's sessions has its stream open.
    clock.advance(60_000);
    expect((await rawInitialize(h.url, token)).status).toBe(429);

    for (const kind of ['v2-legacy', 'v1', 'v2-auto'] as const) {
      const bob = await client(kind, bobToken);
      expect(await bob.callTool('test_simple_text', {})).toEqual(SIMPLE);
    }
    // Alice's own sessions still work.
    for (const c of alice) expect(textOf(await c.callTool('test_simple_text', {}))).toBe('This is a simple text response for testing.');
  });

  it('closing a session makes room for a new one', async () => {
    const token = await newUser();
    const first = await rawInitialize(h.url, token);
    await rawInitialize(h.url, token);
    await rawInitialize(h.url, token);
    expect((await rawInitialize(h.url, token)).status).toBe(429);
    const del = await fetch(h.url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}`, 'mcp-session-id': first.sessionId!, 'mcp-protocol-version': '2025-11-25' },
    });
    expect(del.status).toBe(200);
    const again = await rawInitialize(h.url, token);
    expect(again.status).toBe(200);
  });

  it('evicts the least recently used idle session once it has been idle for 10 s, never a recent one', async () => {
    const token = await newUser();
    const sessions = [await rawInitialize(h.url, token), await rawInitialize(h.url, token)];
    clock.advance(5_000);
    sessions.push(await rawInitialize(h.url, token));
    expect(sessions.map((s) => s.status)).toEqual([200, 200, 200]);
    // Used a moment ago: nothing is evictable yet.
    expect((await rawInitialize(h.url, token)).status).toBe(429);
    clock.advance(6_000);
    // The second session is used again, so the first is the least recently used one idle ≥ 10 s.
    expect((await ping(h.url, token, sessions[1]!.sessionId!)).status).toBe(200);
    const fourth = await rawInitialize(h.url, token);
    expect(fourth.status).toBe(200);
    expect((await ping(h.url, token, sessions[0]!.sessionId!)).status).toBe(404);
    expect((await ping(h.url, token, sessions[1]!.sessionId!)).status).toBe(200);
    expect((await ping(h.url, token, sessions[2]!.sessionId!)).status).toBe(200);
    expect((await ping(h.url, token, fourth.sessionId!)).status).toBe(200);
  });

  it('refuses a fourth 2026 subscriptions/listen stream of one identity; another identity listens and calls tools', async () => {
    const token = await newUser();
    const { client: alice, sent } = await modernClient(h.url, token);
    open.push(alice);
    const subs: McpSubscription[] = [];
    for (let i = 0; i < 3; i++) subs.push(await alice.listen({ toolsListChanged: true }));
    await expect(alice.listen({ toolsListChanged: true })).rejects.toThrow(STREAMS_REFUSED);

    // The same request by hand, to read the whole answer.
    const listen = sent.find((r) => (JSON.parse(r.body) as { method?: string }).method === 'subscriptions/listen')!;
    const body = { ...(JSON.parse(listen.body) as object), id: 'by-hand' };
    const res = await fetch(h.url, { method: 'POST', headers: listen.headers, body: JSON.stringify(body) });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 429,
      body: limitBody('streamsPerIdentity', 'by-hand', 'Close a subscriptions/listen stream first.'),
    });
    // Calls are not streams: alice can still call tools.
    expect(textOf(await callText(alice))).toBe('This is a simple text response for testing.');

    const { client: bob } = await modernClient(h.url, bobToken);
    open.push(bob);
    const bobSub = await bob.listen({ toolsListChanged: true });
    expect(textOf(await callText(bob))).toBe('This is a simple text response for testing.');
    await bobSub.close();

    // A closed stream gives its place back.
    await subs[0]!.close();
    subs.push(await eventuallyListens(alice));
    for (const s of subs) await s.close();
  });

  it('counts 2025 GET streams and 2026 listen streams together', async () => {
    const token = await newUser();
    const { client: alice } = await modernClient(h.url, token);
    open.push(alice);
    const subs = [await alice.listen({ toolsListChanged: true }), await alice.listen({ toolsListChanged: true })];
    const session = await rawInitialize(h.url, token);
    const get = (signal: AbortSignal) =>
      fetch(h.url, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session.sessionId!, 'mcp-protocol-version': '2025-11-25' },
        signal,
      });
    const stream = new AbortController();
    const third = await get(stream.signal);
    expect(third.status).toBe(200);
    await expect(alice.listen({ toolsListChanged: true })).rejects.toThrow(STREAMS_REFUSED);
    stream.abort();
    await subs[1]!.close();
    // With the GET stream and one listen closed, two places are free again: listens take them.
    subs.push(await eventuallyListens(alice), await eventuallyListens(alice));
    const refused = await get(new AbortController().signal);
    expect({ status: refused.status, body: (await refused.json()) as unknown }).toEqual({
      status: 429,
      body: limitBody('streamsPerIdentity', null, 'Close a stream or a session (DELETE /mcp) first.'),
    });
    for (const s of subs) await s.close();
  });
});

function callText(c: Client): Promise<{ content: unknown[]; structuredContent: unknown; isError: boolean }> {
  return c
    .callTool({ name: 'test_simple_text', arguments: {} })
    .then((r) => ({ content: r.content, structuredContent: r.structuredContent, isError: r.isError === true }));
}

/** The server sees a client's listen close a moment after the client does. */
async function eventuallyListens(c: Client): Promise<McpSubscription> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await c.listen({ toolsListChanged: true });
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

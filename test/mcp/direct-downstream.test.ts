/**
 * A 2025 session's (and a 2026-07-28 request's) tools/call to a downstream MCP server, served by
 * the hub's direct path (src/mcp/direct-call.ts, src/mcp/direct/): a real hub on loopback with the
 * conformance fixture (scripts/fixture-server.ts) mounted twice as a downstream over HTTP, once
 * speaking only the 2025 era and once 2026-capable. Raw fetches where the wire matters (priming
 * and resumption event ids, server→client request ids, HTTP statuses), the SDK client where the
 * behaviour does.
 *
 * Covered elsewhere: two users answering their own server→client requests at once over HTTP
 * (test/mcp/isolation.test.ts, the v1h/v2h legacy pairings), and a 2025 SDK client fulfilling a
 * 2026 downstream's input_required (same file, v2h on legacy).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { modernEnvelope, rawModernCall, wireRecorder } from '../helpers/raw-mcp.js';
import { SILENT_PER_SESSION } from '../../src/mcp/direct/session-calls.js';

const FIXTURE_SERVER = join(ROOT, 'dist/scripts/fixture-server.js');
const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';
/** A direct stream's event id: the stream's key, then the event's number in it. */
const DIRECT_ID = /^direct-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}::(\d+)$/;
const RECONNECTED = 'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.';

interface Rpc {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

interface SseEvent {
  id?: string;
  retry?: string;
  event?: string;
  /** The data lines joined; '' for an event whose data is empty (a priming event). */
  data: string;
}

function parseEvent(block: string): SseEvent {
  const e: SseEvent = { data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') e.id = value;
    else if (field === 'retry') e.retry = value;
    else if (field === 'event') e.event = value;
    else if (field === 'data') data.push(value);
  }
  e.data = data.join('\n');
  return e;
}

/** An event stream read as it comes: its raw text, its events, and a wait for what a test expects in it. */
function readStream(res: Response) {
  const events: SseEvent[] = [];
  let raw = '';
  let ended = false;
  let wake: (() => void) | undefined;
  const reader = res.body!.getReader();
  const done = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        const chunk = decoder.decode(value, { stream: true });
        raw += chunk;
        buf += chunk;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          events.push(parseEvent(buf.slice(0, i)));
          buf = buf.slice(i + 2);
        }
        wake?.();
      }
    } finally {
      ended = true;
      wake?.();
    }
    return { events, raw };
  })();
  const messages = (): Rpc[] => events.filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as Rpc);
  /** Resolves with the first message `pick` accepts; rejects if the stream ends without one. */
  const until = async (pick: (m: Rpc) => boolean): Promise<Rpc> => {
    for (;;) {
      const found = messages().find(pick);
      if (found) return found;
      if (ended) throw new Error(`the stream ended without the message awaited: ${raw}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  /** Stops reading (a stream the hub leaves open, as it leaves a cancelled call's). */
  const close = async () => {
    await reader.cancel().catch(() => {});
    return done;
  };
  return { done, messages, until, close };
}

interface Fixture {
  url: string;
  token?: string;
  child: ChildProcess;
}

/** scripts/fixture-server.js over HTTP on a free port, as conformance-proxy starts it. */
async function startFixture(era: '2025' | '2026'): Promise<Fixture> {
  const child = spawn(process.execPath, [FIXTURE_SERVER, '--transport', 'http', '--era', era], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ url: string; token?: string }>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (l) => res(JSON.parse(l) as { url: string; token?: string }));
    child.once('exit', (code) => rej(new Error(`the fixture server exited with ${code}`)));
  });
  return { ...info, child };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
}

const toolsCall = (id: number | string, name: string, args: Record<string, unknown> = {}): Rpc => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

function textOf(result: unknown): string | undefined {
  const content = (result as { content?: Array<{ type: string; text?: string }> } | undefined)?.content;
  return content?.[0]?.text;
}

describe('downstream tool calls on the direct path', () => {
  let hub: RunningHub;
  let legacy: Fixture;
  let modern: Fixture;
  const clients: Client[] = [];

  beforeAll(async () => {
    [legacy, modern] = await Promise.all([startFixture('2025'), startFixture('2026')]);
    hub = await startHub({
      mcpServers: {
        c25: { url: legacy.url },
        c26: { url: modern.url, headers: { authorization: `Bearer ${modern.token}` } },
      },
    });
    const versions = Object.fromEntries(hub.hub.catalog.sources().map((s) => [s.name, s.status().protocolVersion]));
    // Each downstream must be reached on its own era, or the tests below test the wrong thing.
    expect(versions).toMatchObject({ c25: '2025-11-25', c26: '2026-07-28' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    await Promise.all([legacy, modern].filter(Boolean).map((f) => stopChild(f.child)));
  });

  /** A 2025 session opened over plain HTTP at `version`, declaring `capabilities`, with what a test sends on it. */
  async function rawSession(version = '2025-11-25', capabilities: Record<string, unknown> = { elicitation: {} }, token = hub.token) {
    const base = { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    const init = await fetch(hub.url, {
      method: 'POST',
      headers: base,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: version, capabilities, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    expect(init.status).toBe(200);
    const sessionId = init.headers.get('mcp-session-id') ?? '';
    const body = await init.text();
    // The version the session speaks is the one asked for, so the header below is the session's own.
    expect(body).toContain(`"protocolVersion":"${version}"`);
    const headers = { ...base, 'mcp-session-id': sessionId, 'mcp-protocol-version': version };
    const post = (message: unknown) => fetch(hub.url, { method: 'POST', headers, body: JSON.stringify(message) });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const resume = (lastEventId: string) =>
      fetch(hub.url, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          'mcp-session-id': sessionId,
          'mcp-protocol-version': version,
          'last-event-id': lastEventId,
        },
      });
    return { sessionId, post, resume };
  }

  /** A v2 SDK client on a 2025 session; `gets` records the Last-Event-ID of each GET it sends. */
  async function legacyClient(capabilities: Record<string, unknown>, onElicit?: (message: string) => Record<string, string>, token = hub.token) {
    const client = new Client({ name: 'direct-downstream', version: '1.0.0' }, { capabilities, versionNegotiation: { mode: 'legacy' } });
    if (onElicit) client.setRequestHandler('elicitation/create', async (req) => ({ action: 'accept', content: onElicit(req.params.message) }));
    const wire = wireRecorder();
    const transport = new StreamableHTTPClientTransport(new URL(hub.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: wire.fetch,
    });
    await client.connect(transport);
    clients.push(client);
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    return { client, gets: wire.resumes, calls: wire.calls };
  }

  it('opens a 2025-11-25 call’s stream with a priming event, and a 2025-06-18 call’s without one', async () => {
    const resumable = await rawSession('2025-11-25');
    const res = await resumable.post(toolsCall(1, 'c25__test_simple_text'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { events, raw } = await readStream(res).done;
    expect(raw).toMatch(/^id: direct-[^\n]+::0\nretry: 1000\ndata: \n\n/);
    expect(events[0]).toEqual({ id: expect.stringMatching(DIRECT_ID), retry: '1000', data: '' });
    expect(events[0]!.id!.endsWith('::0')).toBe(true);
    expect(events.slice(1).map((e) => e.id)).toEqual(events.slice(1).map(() => undefined));
    expect(JSON.parse(events.at(-1)!.data)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] },
    });

    const older = await rawSession('2025-06-18');
    const res2 = await older.post(toolsCall(2, 'c25__test_simple_text'));
    expect(res2.headers.get('content-type')).toBe('text/event-stream');
    const plain = await readStream(res2).done;
    expect(plain.raw).not.toMatch(/^id:/m);
    expect(plain.raw).not.toMatch(/^retry:/m);
    expect(plain.events.map((e) => JSON.parse(e.data) as Rpc)).toEqual([
      { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'This is a simple text response for testing.' }] } },
    ]);
  });

  it('answers a 2025-11-25 call with a JSON-RPC error and no event id at all, on the direct path and the SDK’s', async () => {
    // A 1.x SDK client waits for a result: with an id on the stream it resumed the finished stream
    // after an error, then opened a second GET stream and got 409 Conflict, on every error.
    const s = await rawSession('2025-11-25');
    // An unknown tool is refused by the SDK's server; a tool that needs sampling the session lacks, by the downstream on the direct path.
    for (const [id, name, code] of [
      [31, 'c25__no_such_tool', -32602],
      [32, 'c25__test_missing_capability', -32021],
    ] as const) {
      const res = await s.post(toolsCall(id, name));
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const { events, raw } = await readStream(res).done;
      expect(raw, raw).not.toMatch(/^id:/m);
      expect(events.map((e) => (JSON.parse(e.data) as Rpc).error?.code)).toEqual([code]);
    }
    // A result keeps its priming event: a client may resume a call that breaks off.
    const ok = await readStream(await s.post(toolsCall(33, 'c25__test_simple_text'))).done;
    expect(ok.raw).toMatch(/^id: direct-[^\n]+::0\nretry: 1000\ndata: \n\n/);
  });

  // c26 speaks 2026-07-28 to the hub's modern callers; a 2025 caller gets a 2025 session of its own
  // there, so the server's close reaches it as it does from a 2025-only server.
  it.each(['c25', 'c26'])(
    '%s: closes the caller’s stream when the downstream closed its own, and the result follows a GET with Last-Event-ID',
    async (server) => {
      const s = await rawSession();
      const res = await s.post(toolsCall(21, `${server}__test_reconnection`));
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const { events } = await readStream(res).done;
      // Ended by the hub with no answer: a priming event, then the event to resume from.
      expect(events.filter((e) => e.data !== '')).toEqual([]);
      const ids = events.map((e) => e.id);
      expect(ids).toHaveLength(2);
      const [first, last] = ids as [string, string];
      expect(first).toMatch(DIRECT_ID);
      expect(last).toMatch(DIRECT_ID);
      expect(first.endsWith('::0')).toBe(true);
      expect(last.endsWith('::1')).toBe(true);
      expect(last.split('::')[0]).toBe(first.split('::')[0]);
      expect(events.at(-1)).toMatchObject({ retry: '1000', data: '' });

      const resumed = await s.resume(last);
      expect(resumed.status).toBe(200);
      expect(resumed.headers.get('content-type')).toBe('text/event-stream');
      const after = readStream(resumed);
      await after.done;
      expect(after.messages()).toEqual([{ jsonrpc: '2.0', id: 21, result: { content: [{ type: 'text', text: RECONNECTED }] } }]);

      // The stream is the client's once: resumed, it is no longer kept.
      const again = await s.resume(last);
      expect(again.status).toBe(400);
      await again.text();
    },
  );

  it('lets the SDK client resume a stream the hub closed: callTool resolves with the result', async () => {
    const { client, gets } = await legacyClient({});
    const r = await client.callTool({ name: 'c25__test_reconnection', arguments: {} });
    expect(r.content).toEqual([{ type: 'text', text: RECONNECTED }]);
    expect(r.isError).not.toBe(true);
    // It came back through the direct path's resumption, from the event the hub closed the stream on.
    expect(gets).toHaveLength(1);
    expect(gets[0]).toMatch(DIRECT_ID);
    expect(gets[0]!.endsWith('::1')).toBe(true);
  });

  it('keeps a call whose 2025-11-25 stream the client lost (a disconnection is no cancel): its answer comes on the resumed stream', async () => {
    const s = await rawSession();
    const stream = readStream(await s.post(toolsCall(21, 'c25__test_elicitation', { message: 'Still there?' })));
    const ask = await stream.until((m) => m.method === 'elicitation/create');
    // The connection drops (a proxy's idle timeout, a network change) while the call waits.
    const { events } = await stream.close();
    const resumeFrom = events[0]!.id!;
    expect(resumeFrom).toMatch(DIRECT_ID);
    // The call goes on: the answer reaches the tool, and its result waits for the client.
    const answered = await s.post({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { response: 'yes' } } });
    expect(answered.status).toBe(202);
    // The kept stream is its session's: another user's session naming its id gets nothing of it.
    const bob = await rawSession('2025-11-25', { elicitation: {} }, (await hub.hub.tokens.create({ user: 'bob' })).token);
    const foreign = await bob.resume(resumeFrom);
    expect(foreign.status).toBe(400);
    expect(await foreign.text()).not.toContain('User response');
    const resumed = await s.resume(resumeFrom);
    expect(resumed.status).toBe(200);
    const back = await readStream(resumed).done;
    expect(back.events.filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as Rpc)).toEqual([
      { jsonrpc: '2.0', id: 21, result: { content: [{ type: 'text', text: 'User response: action=accept, content={"response":"yes"}' }] } },
    ]);
  });

  // 400, not 404: a 404 on the session's endpoint tells a client its session is gone.
  it('answers a GET resuming an unknown direct stream with 400 and a JSON-RPC error at once', async () => {
    const s = await rawSession();
    const res = await s.resume(`direct-${randomUUID()}::0`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: expect.any(String) } });
    // The session is unharmed.
    const next = await readStream(await s.post(toolsCall(3, 'c25__test_simple_text'))).done;
    expect(textOf((JSON.parse(next.events.at(-1)!.data) as Rpc).result)).toBe('This is a simple text response for testing.');
  });

  it('sends the downstream’s elicitation on the call’s stream with a switchboard- id, and the POSTed answer reaches the tool', async () => {
    const s = await rawSession();
    const stream = readStream(await s.post(toolsCall(31, 'c25__test_elicitation', { message: 'Pick a word' })));
    const ask = await stream.until((m) => m.method === 'elicitation/create');
    expect(typeof ask.id).toBe('string');
    expect(String(ask.id)).toMatch(/^switchboard-\d+$/);
    expect(ask.params).toMatchObject({ message: 'Pick a word', requestedSchema: { type: 'object' } });
    // The hub's own relating stamp never reaches the caller.
    expect(JSON.stringify(ask.params)).not.toContain('switchboard/call');

    // An answer to no request of the hub's is not taken for this one, and does not break the session.
    const stray = await s.post({ jsonrpc: '2.0', id: 'switchboard-999999', result: { action: 'accept', content: { response: 'stray' } } });
    expect(stray.status).toBeLessThan(500);
    await stray.text();

    const answered = await s.post({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { response: 'yes' } } });
    expect(answered.status).toBe(202);
    expect(await answered.text()).toBe('');
    await stream.done;
    expect(stream.messages().at(-1)).toEqual({
      jsonrpc: '2.0',
      id: 31,
      result: { content: [{ type: 'text', text: 'User response: action=accept, content={"response":"yes"}' }] },
    });

    // The hub goes on: the next call on the same session is answered.
    const next = await readStream(await s.post(toolsCall(32, 'c25__test_simple_text'))).done;
    expect(JSON.parse(next.events.at(-1)!.data)).toMatchObject({ id: 32, result: { content: [{ text: 'This is a simple text response for testing.' }] } });
  });

  /** A raw call left waiting on the downstream's elicitation, then cancelled by its caller: its stream, read to its end. */
  async function cancelWhileAsked(s: Awaited<ReturnType<typeof rawSession>>, id: number) {
    const stream = readStream(await s.post(toolsCall(id, 'c25__test_elicitation', { message: 'Never answered' })));
    const ask = await stream.until((m) => m.method === 'elicitation/create');
    expect(String(ask.id)).toMatch(/^switchboard-\d+$/);
    const cancel = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'the user gave up' } });
    expect(cancel.status).toBe(202);
    // The call ended: its request to the client is withdrawn on its stream, which then stays open
    // without an answer (as the SDK's does: a client that saw its priming id would otherwise try
    // to resume it).
    await stream.until((m) => m.method === 'notifications/cancelled');
    return { ask, stream };
  }

  it('ends a call cancelled by its caller while the downstream’s elicitation waits: no answer, and the hub stays usable', async () => {
    const s = await rawSession();
    const { stream: cancelled } = await cancelWhileAsked(s, 41);
    const next = await readStream(await s.post(toolsCall(42, 'c25__test_simple_text'))).done;
    expect(JSON.parse(next.events.at(-1)!.data)).toMatchObject({ id: 42, result: { content: [{ text: 'This is a simple text response for testing.' }] } });
    // A cancelled call gets no answer: its stream holds the request and its withdrawal only.
    await cancelled.close();
    expect(cancelled.messages().map((m) => m.method ?? m.id)).toEqual(['elicitation/create', 'notifications/cancelled']);
    // And a new elicitation on the same session is asked and answered as usual.
    const stream = readStream(await s.post(toolsCall(43, 'c25__test_elicitation', { message: 'Now answer' })));
    const ask = await stream.until((m) => m.method === 'elicitation/create');
    expect((await s.post({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { response: 'ok' } } })).status).toBe(202);
    await stream.done;
    expect(textOf(stream.messages().at(-1)?.result)).toBe('User response: action=accept, content={"response":"ok"}');
  });

  it(`keeps at most ${SILENT_PER_SESSION} cancelled calls’ streams open per session: one more ends the oldest`, async () => {
    const s = await rawSession();
    const streams = [];
    for (let i = 0; i < SILENT_PER_SESSION; i++) streams.push((await cancelWhileAsked(s, 60 + i)).stream);
    const ends = streams.map((st, i) => st.done.then(() => i));
    streams.push((await cancelWhileAsked(s, 60 + SILENT_PER_SESSION)).stream);
    // The oldest ends (no answer in it), and it is the first of them to end.
    expect(await Promise.race(ends)).toBe(0);
    expect(streams[0]!.messages().map((m) => m.method ?? m.id)).toEqual(['elicitation/create', 'notifications/cancelled']);
    await Promise.all(streams.slice(1).map((st) => st.close()));
  });

  // The call's own abort withdraws its requests while its stream is still open: the downstream's
  // cancellation of its elicitation would arrive only after the stream ended.
  it('withdraws the elicitation at the client (notifications/cancelled for its switchboard- id) when the caller cancels the call', async () => {
    const s = await rawSession();
    const { ask, stream } = await cancelWhileAsked(s, 44);
    await stream.close();
    expect(stream.messages()).toContainEqual({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: ask.id, reason: 'the user gave up' },
    });
  });

  it('gives two users’ 2025 clients each a 2025 session of their own on a two-era server: each elicitation reaches its own caller only', async () => {
    const bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const seen: Record<string, string[]> = { alice: [], bob: [] };
    const answering = (user: 'alice' | 'bob') => (message: string) => {
      seen[user]!.push(message);
      return { response: `${user} re ${message}` };
    };
    const alice = await legacyClient({ elicitation: { form: {} } }, answering('alice'));
    const bob = await legacyClient({ elicitation: { form: {} } }, answering('bob'), bobToken);
    const call = (c: typeof alice, message: string) => c.client.callTool({ name: 'c26__test_elicitation', arguments: { message } });
    // At once, on one server: nothing tells the two calls apart but the session each came on.
    const [a, b] = await Promise.all([call(alice, 'Confirm transfer for A-private-1234'), call(bob, 'Confirm transfer for B-5678')]);
    expect(a.content).toEqual([{ type: 'text', text: 'User response: action=accept, content={"response":"alice re Confirm transfer for A-private-1234"}' }]);
    expect(b.content).toEqual([{ type: 'text', text: 'User response: action=accept, content={"response":"bob re Confirm transfer for B-5678"}' }]);
    expect(seen).toEqual({ alice: ['Confirm transfer for A-private-1234'], bob: ['Confirm transfer for B-5678'] });
  });

  it('relays a 2026-capable downstream’s elicitation to a 2025 caller on the call’s stream; a caller without elicitation gets the -32021 the downstream answers such a client directly, as on the SDK path', async () => {
    const answering = await legacyClient({ elicitation: { form: {} } }, () => ({ name: 'Alice' }));
    const done = await answering.client.callTool({ name: 'c26__test_input_required_result_elicitation', arguments: {} });
    expect(done).toMatchObject({ content: [{ type: 'text', text: 'Hello, Alice!' }] });
    expect(done.isError).not.toBe(true);
    // Asked on the call's own stream by the direct path.
    const wire = await answering.calls[0];
    expect(wire).toMatch(/"method":"elicitation\/create","params"/);
    expect(wire).toMatch(/"id":"switchboard-\d+"/);

    // A 2025 caller reaches a server that also speaks 2026 on a 2025 session of its own (the
    // server has sessions). One that declared no elicitation gets what the server answers such a
    // client directly, -32021 naming the capability, and is never asked.
    const mute = await legacyClient({});
    await expect(mute.client.callTool({ name: 'c26__test_input_required_result_elicitation', arguments: {} })).rejects.toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { elicitation: {} } },
    });
    expect(await mute.calls[0]).not.toContain('"method":"elicitation/create"');
    // The same call the SDK's way (a batch of one never goes direct) is answered alike.
    const raw = await rawSession('2025-11-25', {});
    const direct = await readStream(await raw.post(toolsCall(51, 'c26__test_input_required_result_elicitation'))).done;
    const viaSdk = await readStream(await raw.post([toolsCall(51, 'c26__test_input_required_result_elicitation')])).done;
    const last = (e: SseEvent[]) => JSON.parse(e.filter((x) => x.data !== '').at(-1)!.data) as Rpc;
    expect(last(direct.events)).toMatchObject({ id: 51, error: { code: -32021 } });
    expect(last(direct.events)).toEqual(last(viaSdk.events));
  });

  it('hands a 2026 caller the downstream’s input_required sealed by the hub, completes its retry, and refuses one without the capability (400, -32021)', async () => {
    const name = 'c26__test_input_required_result_request_state';
    const envelope = modernEnvelope({ elicitation: { form: {} } });
    const first = await rawModernCall(hub.url, hub.token, { name, _meta: envelope });
    expect(first.status).toBe(200);
    expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
    expect((first.result?.['_meta'] as Record<string, unknown> | undefined)?.[SERVER_INFO_KEY]).toMatchObject({
      name: expect.any(String),
      version: expect.any(String),
    });
    const state = first.result!.requestState!;
    expect(state).toEqual(expect.any(String));
    // What the downstream itself gives as its state is not what the caller holds.
    const own = await rawModernCall(modern.url, modern.token!, { name: 'test_input_required_result_request_state', _meta: envelope });
    const downstreamState = own.result!.requestState!;
    expect(downstreamState).toEqual(expect.any(String));
    expect(state).not.toBe(downstreamState);
    expect(state).not.toContain('awaiting-confirmation');
    const answer = { inputResponses: { confirm: { action: 'accept', content: { ok: true } } } };
    const forged = await rawModernCall(hub.url, hub.token, { name, _meta: envelope, ...answer, requestState: downstreamState });
    expect(forged.error).toMatchObject({ code: -32602 });

    const done = await rawModernCall(hub.url, hub.token, { name, _meta: envelope, ...answer, requestState: state });
    expect(done.status).toBe(200);
    expect(done.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'state-ok: confirmation accept' }] });

    const bare = await rawModernCall(hub.url, hub.token, { name: 'c26__test_input_required_result_elicitation', _meta: modernEnvelope({}) });
    expect(bare.status).toBe(400);
    expect(bare.error).toMatchObject({ code: -32021 });
  });
});

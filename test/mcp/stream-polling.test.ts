/**
 * The hub's own SEP-1699 polling (`server.pollCallStreamsMs`, src/mcp/stream-polling.ts): a real
 * hub on loopback mounts the conformance fixture (scripts/fixture-server.ts) over stdio, where the
 * fixture has no stream of its own to close, and closes a 2025-11-25 caller's stream once its call
 * ran 30 ms. The SDK client comes back with Last-Event-ID and gets the rest: what the call said
 * after the close and its result, for two users calling at once. The hub's own in-process
 * conformance tools show the same on the SDK transport's path.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { rawInitialize, sessionHeaders, wireRecorder } from '../helpers/raw-mcp.js';

const FIXTURE_SERVER = join(ROOT, 'dist/scripts/fixture-server.js');
/** The fixture's tools that take 100 ms: a poll at 30 ms always comes first. */
const POLL_MS = 30;
const RECONNECTED = 'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.';
/** The event a direct stream ends on when the hub closes it: the first close of the stream. */
const FIRST_CLOSE = /^direct-[0-9a-f-]{36}::1$/;

describe('polling a running call’s stream (server.pollCallStreamsMs)', () => {
  let hub: RunningHub;
  let bobToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: { fx: { command: process.execPath, args: [FIXTURE_SERVER, '--transport', 'stdio', '--era', '2025'] } },
      server: { pollCallStreamsMs: POLL_MS },
      // The hub's own conformance tools, in process: their calls go the SDK transport's way.
      fixtures: { conformance: true },
    });
    expect(
      hub.hub.catalog
        .sources()
        .find((s) => s.name === 'fx')
        ?.status().state,
    ).toBe('ready');
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  async function connect(token: string) {
    const client = new Client({ name: 'stream-polling', version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'legacy' } });
    const wire = wireRecorder();
    await client.connect(
      new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } }, fetch: wire.fetch }),
    );
    clients.push(client);
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    return { client, resumes: wire.resumes };
  }

  it('closes each caller’s stream mid-call and the SDK client gets the rest after it came back: two users at once', async () => {
    const [alice, bob] = await Promise.all([connect(hub.token), connect(bobToken)]);
    const progress = { alice: [] as number[], bob: [] as number[] };
    const call = (who: 'alice' | 'bob', c: Client) =>
      c.callTool({ name: 'fx__test_tool_with_progress', arguments: {} }, { onprogress: (p) => progress[who].push(p.progress) });
    const [a, b] = await Promise.all([call('alice', alice.client), call('bob', bob.client)]);
    expect(a.content).toEqual([{ type: 'text', text: 'Progress reported' }]);
    expect(b.content).toEqual([{ type: 'text', text: 'Progress reported' }]);
    // Every progress notification reached its own caller once, those sent while the stream was
    // closed on the resumed stream.
    expect(progress).toEqual({ alice: [0, 50, 100], bob: [0, 50, 100] });
    // Each came back once, to its own stream.
    expect(alice.resumes).toHaveLength(1);
    expect(bob.resumes).toHaveLength(1);
    expect(alice.resumes[0]).toMatch(FIRST_CLOSE);
    expect(bob.resumes[0]).toMatch(FIRST_CLOSE);
    expect(alice.resumes[0]).not.toBe(bob.resumes[0]);
  });

  it('gives a downstream over stdio a caller that resumes: test_reconnection’s result follows a GET', async () => {
    const { client, resumes } = await connect(hub.token);
    const r = await client.callTool({ name: 'fx__test_reconnection', arguments: {} });
    expect(r.content).toEqual([{ type: 'text', text: RECONNECTED }]);
    expect(resumes).toHaveLength(1);
  });

  it('polls a call served by the SDK’s transport too: the rest is replayed from its event store', async () => {
    const { client, resumes } = await connect(bobToken);
    const progress: number[] = [];
    const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, { onprogress: (p) => progress.push(p.progress) });
    expect(r.content).toEqual([{ type: 'text', text: 'Progress reported' }]);
    expect(progress).toEqual([0, 50, 100]);
    expect(resumes).toHaveLength(1);
    expect(resumes[0]).not.toMatch(/^direct-/);
  });

  // The hub's own tool answers within the microtasks of its request, before any timer can fire: a
  // round trip to a child process could take longer than the 30 ms on a loaded machine.
  it('leaves the stream of a call that answers first alone', async () => {
    const { client, resumes } = await connect(hub.token);
    const r = await client.callTool({ name: 'test_simple_text', arguments: {} });
    expect(r.content).toEqual([{ type: 'text', text: 'This is a simple text response for testing.' }]);
    expect(resumes).toEqual([]);
  });

  it('never closes the stream of a client that does not resume (2025-06-18): the result comes on the POST', async () => {
    const init = await rawInitialize(hub.url, hub.token, 0, '2025-06-18');
    expect(init.status).toBe(200);
    const headers = sessionHeaders(hub.token, init.sessionId ?? '', { 'mcp-protocol-version': '2025-06-18' });
    const post = (message: unknown) => fetch(hub.url, { method: 'POST', headers, body: JSON.stringify(message) });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    const res = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'fx__test_reconnection', arguments: {} } });
    const raw = await res.text();
    expect(raw).not.toMatch(/^id:/m);
    const messages = raw
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice('data:'.length)) as unknown);
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: RECONNECTED }] } }]);
  });
});

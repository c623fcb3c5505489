import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * An HTTP downstream (a 1.x SDK server with sessions) that dies while answering a call: its
 * answer stream breaks and the port refuses from then on. The caller is told at once, retryably
 * and by the cause, and the server is shown restarting — not left to wait out the server's
 * `timeoutMs` (a minute here: the test's own timeout ends a call that waits for it). A stream the
 * server ends cleanly to be resumed (SEP-1699) still brings its answer after the resumption. A
 * resource read (a request of no call, sent the SDK transport's way) whose answer breaks fails the same.
 */
interface Downstream {
  url: string;
  /** What the server has been asked, by method (GET with Last-Event-ID counted as `resume`). */
  seen: string[];
  stop: () => void;
}

interface Options {
  /** Primes each answer stream with an event id (and a 20 ms retry), so a client may resume it. */
  eventStore: boolean;
  /** Answers requests to /mcp with a 307 to /mcp/: the hub's calls then go the SDK transport's way. */
  redirect: boolean;
}

async function downstream(o: Options): Promise<Downstream> {
  const seen: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let server!: Server;
  // Dies as a crashed process does: every socket closed mid-answer, nothing listening after.
  const die = () => {
    server.close();
    server.closeAllConnections();
  };
  let resumed = () => {};
  const build = () => {
    const s = new McpServer({ name: 'dying', version: '1.0.0' });
    s.registerTool('ping', { description: 'Answers at once' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
    s.registerTool('crash', { description: 'Dies while answering' }, async () => {
      setTimeout(die, 20);
      return new Promise<never>(() => {});
    });
    s.registerResource('crash', new ResourceTemplate('crash://{why}', { list: undefined }), { mimeType: 'text/plain' }, async () => {
      setTimeout(die, 20);
      return new Promise<never>(() => {});
    });
    s.registerTool('vanish', { description: 'Its answer stream ends at once, unanswered (see the server below)' }, async () => ({ content: [] }));
    s.registerTool('cut', { description: 'Ends its stream to be resumed, answers after the resumption' }, async (extra) => {
      const back = new Promise<void>((r) => (resumed = r));
      extra.closeSSEStream?.();
      await back;
      return { content: [{ type: 'text', text: 'after the cut' }] };
    });
    return s;
  };
  server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (o.redirect && req.url === '/mcp') return void res.writeHead(307, { location: '/mcp/' }).end();
    // `vanish`: an answer stream opened and ended at once, with no answer and no event id to resume from.
    let parsed: unknown;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const p = parsed as { method?: string; params?: { name?: string } };
      if (p.method === 'tools/call' && p.params?.name === 'vanish') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
    }
    if (req.method === 'GET' && req.headers['last-event-id']) {
      seen.push('resume');
      setTimeout(() => resumed(), 20);
    } else seen.push(req.method ?? '');
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? sessions.get(id) : undefined;
    if (existing) return void existing.handleRequest(req, res, parsed);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
      ...(o.eventStore ? { eventStore: new InMemoryEventStore(), retryInterval: 20 } : {}),
    });
    void build()
      .connect(transport)
      .then(() => transport.handleRequest(req, res, parsed));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, seen, stop: die };
}

const textOf = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const errorMeta = (r: unknown) => (r as CallToolResult)._meta?.['switchboard/error'];

describe('an HTTP downstream that dies while answering a call', () => {
  let hub: RunningHub | undefined;
  let server: Downstream | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await hub?.stop();
    server?.stop();
  });

  async function setUp(o: Options): Promise<Client> {
    server = await downstream(o);
    hub = await startHub({ mcpServers: { web: { url: server.url, timeoutMs: 60_000 } } });
    client = new Client({ name: 'caller', version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'legacy' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    expect(textOf(await client.callTool({ name: 'web__ping', arguments: {} }))).toBe('pong');
    return client;
  }

  async function readyz(): Promise<{ state: string; detail?: string } | undefined> {
    const body = (await (await fetch(new URL('/readyz', hub!.url))).json()) as { sources: Record<string, { state: string; detail?: string }> };
    return body.sources['web'];
  }

  it.each([
    { how: 'its answer stream breaks before any event id', eventStore: false, redirect: false, cause: 'connection reset (ECONNRESET)', code: 'source_crashed' },
    {
      how: 'the SDK transport reads the broken stream (a redirected endpoint)',
      eventStore: false,
      redirect: true,
      cause: 'connection reset (ECONNRESET)',
      code: 'source_crashed',
    },
    {
      how: 'its primed stream cannot be resumed: the port refuses',
      eventStore: true,
      redirect: false,
      cause: 'connection refused (ECONNREFUSED 127.0.0.1:',
      code: 'source_unavailable',
    },
    {
      how: 'primed, read by the SDK transport',
      eventStore: true,
      redirect: true,
      cause: 'connection refused (ECONNREFUSED 127.0.0.1:',
      code: 'source_unavailable',
    },
  ])('the call fails without waiting out timeoutMs, retryably and naming the cause, when $how', { timeout: 15_000 }, async (c) => {
    const caller = await setUp(c);
    const r = await caller.callTool({ name: 'web__crash', arguments: {} }, { timeout: 60_000 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain(`web: ${c.cause}`);
    expect(textOf(r)).toContain('the hub is reconnecting to it');
    expect(errorMeta(r)).toMatchObject({ code: c.code, retryable: true });
    expect(await readyz()).toMatchObject({ state: 'restarting' });
  });

  it('a call whose answer stream the server ends with no answer and no event id fails at once: nothing could resume it', { timeout: 15_000 }, async () => {
    const caller = await setUp({ eventStore: false, redirect: false });
    const r = await caller.callTool({ name: 'web__vanish', arguments: {} }, { timeout: 60_000 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe("web: the server ended the call's answer stream before the answer, with no event id to resume from");
  });

  it.each([false, true])(
    'a resource read fails without waiting out timeoutMs, naming the cause, when its answer stream breaks; redirected: %s',
    { timeout: 15_000 },
    async (redirect) => {
      const caller = await setUp({ eventStore: false, redirect });
      await expect(caller.readResource({ uri: 'crash://now' }, { timeout: 60_000 })).rejects.toThrow(
        "the server's answer broke off: connection reset (ECONNRESET); the hub is reconnecting to it",
      );
    },
  );

  it.each([false, true])(
    'still answers a call whose primed stream the server ended to be resumed (SEP-1699), redirected: %s',
    { timeout: 15_000 },
    async (redirect) => {
      const caller = await setUp({ eventStore: true, redirect });
      server!.seen.length = 0;
      expect(textOf(await caller.callTool({ name: 'web__cut', arguments: {} }))).toBe('after the cut');
      expect(server!.seen).toContain('resume');
      expect(await readyz()).toMatchObject({ state: 'ready' });
    },
  );
});

/**
 * The hub's HTTP client transport against real MCP servers on loopback, side by side with the
 * SDK's own transport: every scenario runs over both and must come out the same, since the hub's
 * transport only takes over the tools/call POST and its answer.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, SdkHttpError, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { McpServer, createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { HubHttpTransport } from '../../src/mcp/downstream/http-transport.js';
import { CALL_HEADER, CALL_TAG } from '../../src/mcp/downstream/relate.js';
import { relatingFetch } from '../../src/mcp/downstream/relating-fetch.js';
import { sendToolCall } from '../../src/mcp/downstream/tool-call.js';
import { BoundedEventStore } from '../../src/mcp/event-store.js';

interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the front does with a tools/call POST to /mcp: pass it on, fail it, or redirect it to /elsewhere. */
interface Calls {
  mode: 'pass' | 'refuse' | 'move';
}

/** A node:http front that records each request, answers tools/call POSTs as `calls` says, and hands the rest to `next`. */
function front(next: (req: IncomingMessage, res: ServerResponse, body: unknown) => void, seen: Seen[], calls: Calls) {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', headers: req.headers, body });
      if (req.url === '/mcp' && body.includes('"tools/call"') && calls.mode === 'refuse') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('the server broke');
        return;
      }
      if (req.url === '/mcp' && body.includes('"tools/call"') && calls.mode === 'move') {
        res.writeHead(307, { location: '/elsewhere' }).end();
        return;
      }
      next(req, res, body === '' ? undefined : (JSON.parse(body) as unknown));
    });
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tools(s: McpServer, resumed: () => Promise<void>): McpServer {
  s.registerTool('echo', { description: 'Echoes', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  s.registerTool('progress', { description: 'Reports progress twice, then answers', inputSchema: z.object({}) }, async (_args, ctx) => {
    const token = ctx.mcpReq._meta?.progressToken;
    if (token !== undefined) {
      for (const progress of [1, 2]) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, total: 2 } });
    }
    return { content: [{ type: 'text', text: 'done' }] };
  });
  s.registerTool('ask', { description: 'Elicits a name', inputSchema: z.object({}) }, async (_args, ctx) => {
    // Sent as related to the call, so a 2025-era server writes it on the call's own stream.
    const r = await ctx.mcpReq.send({
      method: 'elicitation/create',
      params: { message: 'Who?', requestedSchema: { type: 'object', properties: { who: { type: 'string' } } } },
    });
    return { content: [{ type: 'text', text: `hello ${String(r.content?.['who'])}` }] };
  });
  // SEP-1699: the server ends the call's stream before answering; the answer follows the client's resumption.
  s.registerTool('cut', { description: 'Closes its stream, answers after the resumption', inputSchema: z.object({}) }, async (_args, ctx) => {
    ctx.http?.closeSSE?.();
    await resumed();
    return { content: [{ type: 'text', text: 'after the cut' }] };
  });
  return s;
}

/** A 2025-era server: session-based Streamable HTTP with resumable streams, as SDK 1.x servers serve it. */
async function legacyServer() {
  const seen: Seen[] = [];
  const calls: Calls = { mode: 'pass' };
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();
  let onResume = () => {};
  const resumedOnce = () => new Promise<void>((resolve) => (onResume = resolve));
  const server = front(
    (req, res, body) => {
      if (req.method === 'GET' && req.headers['last-event-id']) onResume();
      const sid = req.headers['mcp-session-id'];
      const existing = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (existing) {
        void existing.handleRequest(req, res, body);
        return;
      }
      if (req.method === 'POST' && isInitializeRequest(body)) {
        const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          eventStore: new BoundedEventStore(),
          retryInterval: 1,
          onsessioninitialized: (id) => void sessions.set(id, transport),
        });
        const s = tools(new McpServer({ name: 'legacy', version: '1.0.0' }), resumedOnce);
        void s.connect(transport).then(() => transport.handleRequest(req, res, body));
        return;
      }
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request' }, id: null }));
    },
    seen,
    calls,
  );
  const base = await listen(server);
  return { server, base, seen, calls };
}

/** A 2026-07-28 server: stateless, every request answered on its own. */
async function modernServer() {
  const seen: Seen[] = [];
  const calls: Calls = { mode: 'pass' };
  const handler = toNodeHandler(createMcpHandler(() => tools(new McpServer({ name: 'modern', version: '1.0.0' }), async () => {})));
  const server = front((req, res, body) => void handler(req, res, body), seen, calls);
  const base = await listen(server);
  return { server, base, seen, calls };
}

type Kind = 'sdk' | 'hub';

async function connect(kind: Kind, url: string, onCut: (tag: string) => void = () => {}) {
  const client = new Client(
    { name: 'test', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'auto', probe: { timeoutMs: 5_000 } } },
  );
  const asked: Array<Record<string, unknown> | undefined> = [];
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.push(req.params as Record<string, unknown> | undefined);
    return { action: 'accept', content: { who: 'ada' } };
  });
  // Counts the tools/call POSTs that went through fetch: the SDK transport's way, not the hub's.
  const fetched = { calls: 0 };
  const relating = relatingFetch(onCut);
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    if (typeof init?.body === 'string' && init.body.includes('"tools/call"')) fetched.calls++;
    return relating(input, init);
  };
  const transport: Transport =
    kind === 'hub'
      ? new HubHttpTransport(new URL(url), { headers: { 'x-configured': 'yes' }, onCut, fetch })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { 'x-configured': 'yes' } }, fetch });
  await client.connect(transport);
  return { client, asked, fetched };
}

const call = (client: Client, name: string, args: Record<string, unknown>, extra: { onprogress?: (p: { progress: number }) => void } = {}) =>
  sendToolCall(client, { name, arguments: args }, { timeout: 10_000, headers: { [CALL_HEADER]: 'c7' }, ...extra });

const text = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;

describe.each<Kind>(['sdk', 'hub'])('downstream HTTP transport (%s)', (kind) => {
  let legacy: Awaited<ReturnType<typeof legacyServer>>;
  let modern: Awaited<ReturnType<typeof modernServer>>;

  beforeAll(async () => {
    [legacy, modern] = await Promise.all([legacyServer(), modernServer()]);
  });
  afterAll(() => {
    legacy.server.closeAllConnections();
    modern.server.closeAllConnections();
    legacy.server.close();
    modern.server.close();
  });

  it('calls a 2026-07-28 server with the headers its body implies, the configured ones, and no call tag', async () => {
    const { client, fetched } = await connect(kind, `${modern.base}/mcp`);
    modern.seen.length = 0;
    expect(text(await call(client, 'echo', { text: 'hi' }))).toBe('hi');
    // The hub's transport sends a call itself; the SDK's goes through fetch.
    expect(fetched.calls).toBe(kind === 'hub' ? 0 : 1);
    const post = modern.seen.find((s) => s.body.includes('"tools/call"'));
    expect(post?.headers).toMatchObject({
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
      'mcp-protocol-version': '2026-07-28',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-configured': 'yes',
    });
    expect(post?.headers[CALL_HEADER]).toBeUndefined();
    await client.close();
  });

  it('delivers a 2025-era call’s progress before its result, on the session it opened', async () => {
    const { client, fetched } = await connect(kind, `${legacy.base}/mcp`);
    legacy.seen.length = 0;
    const progress: number[] = [];
    const r = await call(client, 'progress', {}, { onprogress: (p) => progress.push(p.progress) });
    expect(text(r)).toBe('done');
    expect(progress).toEqual([1, 2]);
    expect(fetched.calls).toBe(kind === 'hub' ? 0 : 1);
    const post = legacy.seen.find((s) => s.body.includes('"tools/call"'));
    expect(post?.headers['mcp-session-id']).toEqual(expect.any(String));
    expect(post?.headers['mcp-protocol-version']).toMatch(/^2025-/);
    await client.close();
  });

  it('stamps a server→client request on the call’s stream with the call’s tag', async () => {
    const { client, asked } = await connect(kind, `${legacy.base}/mcp`);
    expect(text(await call(client, 'ask', {}))).toBe('hello ada');
    expect(asked).toHaveLength(1);
    expect(asked[0]?.['_meta']).toMatchObject({ [CALL_TAG]: 'c7' });
    await client.close();
  });

  it('resumes a stream the server closed mid-call with Last-Event-ID, and reports the call’s stream cut', async () => {
    const cuts: string[] = [];
    const { client } = await connect(kind, `${legacy.base}/mcp`, (tag) => cuts.push(tag));
    legacy.seen.length = 0;
    expect(text(await call(client, 'cut', {}))).toBe('after the cut');
    expect(cuts).toEqual(['c7']);
    const resume = legacy.seen.find((s) => s.method === 'GET' && s.headers['last-event-id'] !== undefined);
    expect(resume?.headers['mcp-session-id']).toEqual(expect.any(String));
    await client.close();
  });

  it('follows a same-origin 307 of a call, as the SDK transport does', async () => {
    const { client } = await connect(kind, `${modern.base}/mcp`);
    modern.calls.mode = 'move';
    modern.seen.length = 0;
    try {
      expect(text(await call(client, 'echo', { text: 'moved' }))).toBe('moved');
    } finally {
      modern.calls.mode = 'pass';
    }
    const posts = modern.seen.filter((s) => s.body.includes('"tools/call"'));
    // The hub's transport sends a redirected call again through the SDK's, which then follows it.
    expect(posts.at(-1)?.headers['mcp-name']).toBe('echo');
    expect(posts.length).toBe(kind === 'hub' ? 3 : 2);
    await client.close();
  });

  it('reports a 500 answer as the SDK transport does: an SdkHttpError with the status and body, sent once', async () => {
    const { client } = await connect(kind, `${modern.base}/mcp`);
    modern.calls.mode = 'refuse';
    modern.seen.length = 0;
    const err: unknown = await call(client, 'echo', { text: 'x' })
      .catch((e: unknown) => e)
      .finally(() => {
        modern.calls.mode = 'pass';
      });
    expect(err).toBeInstanceOf(SdkHttpError);
    expect(err).toMatchObject({ message: 'Error POSTing to endpoint: the server broke', status: 500 });
    expect(modern.seen.filter((s) => s.body.includes('"tools/call"'))).toHaveLength(1);
    await client.close();
  });
});

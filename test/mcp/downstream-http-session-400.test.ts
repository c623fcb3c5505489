/**
 * A downstream HTTP server built as the SDK's examples and server-everything are: a map of
 * sessions, and a request whose `Mcp-Session-Id` is not in it answered with HTTP 400 and the
 * JSON-RPC error "Bad Request: No valid session ID provided" (the spec has 404). Restarted, it
 * forgets every session: alice and bob, who each hold a session with it through the hub, go on
 * calling it as if nothing happened, and with nobody calling the hub finds the restart and reads
 * the new server's lists. A 400 for another reason is no lost session: the call fails, the session stays.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

const NO_SESSION = 'Bad Request: No valid session ID provided';

/** The server on one port, restartable: each start is a new "process" that knows no earlier session. */
class SessionMapServer {
  generation = 0;
  /** Handshakes per generation: a new session opened for each caller after the restart. */
  initializations: number[] = [];
  private http: Server | undefined;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async start(): Promise<void> {
    const generation = ++this.generation;
    this.initializations[generation] = 0;
    const sessions = new Map<string, StreamableHTTPServerTransport>();
    const http = createServer((req, res) => void this.handle(generation, sessions, req, res));
    await new Promise<void>((resolve) => http.listen(this.port, '127.0.0.1', resolve));
    this.port = (http.address() as { port: number }).port;
    this.http = http;
  }

  async stop(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    if (!http) return;
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }

  private async handle(generation: number, sessions: Map<string, StreamableHTTPServerTransport>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? sessions.get(id) : undefined;
    if (known) {
      // Another reason for a 400, with a JSON-RPC error that names no session.
      if (isCallOf(body, 'refused')) return refuse(res, 'Bad Request: Unsupported protocol version', body);
      return void known.handleRequest(req, res, body);
    }
    if (id !== undefined || req.method !== 'POST') return refuse(res, NO_SESSION, body);
    this.initializations[generation] = (this.initializations[generation] ?? 0) + 1;
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    await buildServer(generation).connect(transport);
    await transport.handleRequest(req, res, body);
  }
}

function buildServer(generation: number): McpServer {
  const s = new McpServer({ name: 'session-map', version: '1.0.0' });
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  s.registerTool('generation', { description: 'Which start of the server answers' }, async () => text(String(generation)));
  s.registerTool('refused', { description: 'Refused with a 400 before it reaches the server' }, async () => text('never'));
  // A tool only this start has: its lists must be read again to know it.
  s.registerTool(`fresh_${generation}`, { description: 'New in this start' }, async () => text(`fresh ${generation}`));
  return s;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function isCallOf(body: unknown, tool: string): boolean {
  const message = body as { method?: unknown; params?: { name?: unknown } } | undefined;
  return message?.method === 'tools/call' && message.params?.name === tool;
}

/** As server-everything answers: 400, the JSON-RPC error, the request's id. */
function refuse(res: ServerResponse, message: string, body: unknown): void {
  const id = (body as { id?: unknown } | undefined)?.id ?? null;
  res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id }));
}

async function connect(hub: RunningHub, token: string, era: 'legacy' | 'auto'): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `session-400-${era}`, version: '1.0.0' }, { versionNegotiation: { mode: era } });
  await client.connect(transport);
  return client;
}

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
}
/** Whether a call failed and its text: a failure shows its message, so a wrong answer says why. */
const call = async (c: Client, name: string) => {
  const r = (await c.callTool({ name, arguments: {} })) as ToolResult;
  return { isError: r.isError ?? false, text: r.content.map((b) => b.text ?? '').join('') };
};
const ok = (text: string) => ({ isError: false, text });
const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name);

describe('an HTTP server that answers a session it does not know with 400, as the SDK examples do', () => {
  const server = new SessionMapServer();
  let hub: RunningHub;
  let bobToken: string;
  const open: Client[] = [];

  beforeAll(async () => {
    await server.start();
    // No timed check: what finds the restart is the requests themselves.
    hub = await startHub({ mcpServers: { ev: { url: server.url } } }, { keepaliveMs: 600_000, restartBaseMs: 50 });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await hub?.stop();
    await server.stop();
  });

  it('alice and bob, who held sessions with it, go on calling it after its restart, each on a new session', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    const bob = await connect(hub, bobToken, 'auto');
    open.push(alice, bob);
    expect(await call(alice, 'ev__generation')).toEqual(ok('1'));
    expect(await call(bob, 'ev__generation')).toEqual(ok('1'));

    await server.stop();
    await server.start();
    // Each user's session is gone with the old server: the call meets the 400, a new session is
    // opened, and the call is sent again on it.
    expect(await call(alice, 'ev__generation')).toEqual(ok('2'));
    expect(await call(bob, 'ev__generation')).toEqual(ok('2'));
    expect(await call(alice, 'ev__generation')).toEqual(ok('2'));
    // The hub's own session is found gone too, and the new server's lists read.
    await eventually(async () => (await names(bob)).includes('ev__fresh_2'));
    expect(await call(bob, 'ev__fresh_2')).toEqual(ok('fresh 2'));
    await eventually(
      () =>
        hub.hub.catalog
          .sources()
          .find((s) => s.name === 'ev')
          ?.status().state === 'ready',
    );
  });

  it('with nobody calling, the restart is found and the new server’s tools listed', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    open.push(alice);
    const before = server.generation;
    expect(await names(alice)).toContain(`ev__fresh_${before}`);
    await server.stop();
    await server.start();
    // The hub's stream from the server drops with it; reopened, it meets the 400, and a request on
    // the hub's session (the keepalive's check) tells the hub the session is gone.
    await eventually(async () => (await names(alice)).includes(`ev__fresh_${before + 1}`));
  });

  it('a 400 that names no session fails the call only: the session stays and serves the next call', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    open.push(alice);
    const generation = String(server.generation);
    expect(await call(alice, 'ev__generation')).toEqual(ok(generation));
    const handshakes = server.initializations[server.generation];
    const refused = await call(alice, 'ev__refused');
    expect(refused).toEqual({ isError: true, text: expect.stringContaining('Unsupported protocol version') });
    expect(await call(alice, 'ev__generation')).toEqual(ok(generation));
    expect(server.initializations[server.generation]).toBe(handshakes);
  });
});

/**
 * A 2025-era HTTP server built the 1.x SDK way (a Server per session, a map of sessions, 404 for
 * one it does not know), which the hub gives a session per identity besides its own. What comes
 * on or lives in an identity's session is not lost to the proxy: a tool list change the server
 * announces on that session only is listed to everyone, and subscriptions made on it (a 2025
 * `resources/subscribe`, a 2026-07-28 `subscriptions/listen`) are made again when the server
 * restarts, though their holders send nothing more.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

/** The server on one port, restartable: each start is a new "process" that knows no earlier session or subscription. */
class PerSessionServer {
  generation = 0;
  /** Tools a call to `grow` added; they outlive a restart, as a database's would. */
  readonly grown: string[] = [];
  /** The subscriptions this start holds: the session's Server and the URI. */
  private subscriptions: { server: Server; uri: string }[] = [];
  private http: HttpServer | undefined;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  get subscribed(): string[] {
    return this.subscriptions.map((s) => s.uri).sort();
  }

  async start(): Promise<void> {
    this.generation++;
    this.subscriptions = [];
    const sessions = new Map<string, StreamableHTTPServerTransport>();
    const http = createServer((req, res) => void this.handle(sessions, req, res));
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

  /** Tells every subscriber, on its own session, that its resource changed. */
  async touch(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.server.sendResourceUpdated({ uri: s.uri })));
  }

  private async handle(sessions: Map<string, StreamableHTTPServerTransport>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? sessions.get(id) : undefined;
    if (known) return void known.handleRequest(req, res);
    if (id !== undefined) return void res.writeHead(404).end();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    await this.build().connect(transport);
    await transport.handleRequest(req, res);
  }

  private build(): Server {
    const s = new Server({ name: 'per-session', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { subscribe: true } } });
    const tool = (name: string) => ({ name, inputSchema: { type: 'object' as const } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [tool('grow'), ...this.grown.map(tool)] }));
    s.setRequestHandler(CallToolRequestSchema, async (r) => {
      if (r.params.name === 'grow') {
        this.grown.push(`grown${this.grown.length + 1}`);
        // On the session of the call only, as a Server per session announces.
        await s.sendToolListChanged();
      }
      return { content: [{ type: 'text', text: `${r.params.name} ok` }] };
    });
    s.setRequestHandler(ListResourcesRequestSchema, async () => ({
      resources: [
        { uri: 'w://a', name: 'a' },
        { uri: 'w://b', name: 'b' },
      ],
    }));
    s.setRequestHandler(ReadResourceRequestSchema, async (r) => ({ contents: [{ uri: r.params.uri, text: 'x' }] }));
    s.setRequestHandler(SubscribeRequestSchema, async (r) => {
      this.subscriptions.push({ server: s, uri: r.params.uri });
      return {};
    });
    s.setRequestHandler(UnsubscribeRequestSchema, async (r) => {
      this.subscriptions = this.subscriptions.filter((x) => x.server !== s || x.uri !== r.params.uri);
      return {};
    });
    return s;
  }
}

interface Watcher {
  client: Client;
  updates: string[];
  toolChanges: number;
}

async function connect(hub: RunningHub, token: string, era: 'legacy' | 'auto'): Promise<Watcher> {
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `identity-sessions-${era}`, version: '1.0.0' }, { versionNegotiation: { mode: era } });
  const w: Watcher = { client, updates: [], toolChanges: 0 };
  client.setNotificationHandler('notifications/resources/updated', (n) => void w.updates.push(n.params.uri));
  client.setNotificationHandler('notifications/tools/list_changed', () => void w.toolChanges++);
  await client.connect(transport);
  return w;
}

const names = async (w: Watcher) => (await w.client.listTools()).tools.map((t) => t.name);

describe('a 2025-era HTTP server with a session per identity', () => {
  const server = new PerSessionServer();
  let hub: RunningHub;
  let bobToken: string;
  const open: Client[] = [];

  beforeAll(async () => {
    await server.start();
    // The keepalive checks often, so the hub finds the restart at once; it only pings a server
    // that declares `listChanged` for its tools, so it never reads the tool list again itself.
    hub = await startHub({ mcpServers: { w: { url: server.url } } }, { keepaliveMs: 200, restartBaseMs: 50 });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
    await server.stop();
  });

  it('a tool list change announced on one identity’s session is listed to everyone, who are told', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    const bob = await connect(hub, bobToken, 'legacy');
    open.push(alice.client, bob.client);
    expect(await names(bob)).toEqual(['w__grow']);
    // Over alice's own session with the server, which announces the new tool there.
    await alice.client.callTool({ name: 'w__grow', arguments: {} });
    expect(await names(alice)).toEqual(['w__grow', 'w__grown1']);
    await eventually(() => bob.toolChanges > 0);
    expect(await names(bob)).toEqual(['w__grow', 'w__grown1']);
    expect((await bob.client.callTool({ name: 'w__grown1', arguments: {} })).content).toEqual([{ type: 'text', text: 'grown1 ok' }]);
  });

  it('subscriptions made on identities’ sessions are made again when the server restarts, with their holders sending nothing', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    const bob = await connect(hub, bobToken, 'auto');
    open.push(alice.client, bob.client);
    await alice.client.subscribeResource({ uri: 'w://a' });
    await bob.client.listen({ resourceSubscriptions: ['w://b'] });
    await eventually(() => server.subscribed.length === 2);
    await server.touch();
    await eventually(() => alice.updates.length > 0 && bob.updates.length > 0);
    expect([alice.updates, bob.updates]).toEqual([['w://a'], ['w://b']]);

    await server.stop();
    await server.start();
    // The hub's own session finds the restart; each identity's subscriptions are made on a new session.
    await eventually(() => server.subscribed.length === 2);
    expect(server.subscribed).toEqual(['w://a', 'w://b']);
    await server.touch();
    await eventually(() => alice.updates.length > 1 && bob.updates.length > 1);
    expect([alice.updates, bob.updates]).toEqual([
      ['w://a', 'w://a'],
      ['w://b', 'w://b'],
    ]);
  });
});

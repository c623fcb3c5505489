import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { RootsListChangedNotificationSchema, type Root } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A 2025-era HTTP server that keeps its session's roots as server-everything does: asked once
 * (outside the call, on the session's own stream), then again only on roots/list_changed. The hub
 * gives each identity one session with it, which that identity's clients share; each call must
 * still see its own client's roots — one client's never handed to the next.
 */
function rootsCachingServer(): Promise<{ url: string; server: Server }> {
  const roots = new Map<string, Root[]>();
  const build = () => {
    const s = new McpServer({ name: 'everything-like', version: '1.0.0' });
    const ask = async (sid: string): Promise<void> => {
      roots.set(sid, (await s.server.listRoots()).roots);
    };
    s.registerTool('get-roots-list', { description: 'The roots this session knows' }, async (extra) => {
      const sid = extra.sessionId ?? '';
      if (!roots.has(sid)) {
        s.server.setNotificationHandler(RootsListChangedNotificationSchema, () => ask(sid).catch(() => {}));
        await ask(sid).catch(() => {});
      }
      return { content: [{ type: 'text', text: JSON.stringify((roots.get(sid) ?? []).map((r) => r.uri)) }] };
    });
    s.registerTool('echo', { description: 'Answers at once' }, async () => ({ content: [{ type: 'text', text: 'echo' }] }));
    // The session's own ask while a call runs, on its stream and related to no request, as
    // server-everything asks 350 ms after initialize: directly, a client without roots makes the
    // SDK refuse it before it is sent, and the call goes on.
    s.registerTool('busy', { description: 'Asks the session its roots on the side' }, async () => {
      const asked = await s.server.listRoots().then(
        () => 'answered',
        () => 'refused',
      );
      return { content: [{ type: 'text', text: asked }] };
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

async function connect(hub: RunningHub, token: string, roots: string[] | undefined, era: 'legacy' | 'auto' = 'legacy'): Promise<Client> {
  const client = new Client({ name: 'roots-client', version: '1.0.0' }, { capabilities: roots ? { roots: {} } : {}, versionNegotiation: { mode: era } });
  if (roots) client.setRequestHandler('roots/list', async () => ({ roots: roots.map((uri) => ({ uri })) }));
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const rootsSeen = async (client: Client) => {
  const r = (await client.callTool({ name: 'ev__get-roots-list', arguments: {} })) as CallToolResult;
  expect(r.isError).toBeFalsy();
  return JSON.parse((r.content[0] as { text: string }).text) as string[];
};

describe('roots through one identity’s session with a server that caches them', () => {
  let hub: RunningHub;
  let server: Server;
  let daveToken: string;
  const open: Client[] = [];

  beforeAll(async () => {
    const ev = await rootsCachingServer();
    server = ev.server;
    hub = await startHub({ mcpServers: { ev: { url: ev.url } } });
    daveToken = (await hub.hub.tokens.create({ user: 'dave' })).token;
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await hub?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  it('each of one user’s clients is shown its own roots, and another user his', async () => {
    const carolA = await connect(hub, hub.token, ['file:///carol']);
    const carolB = await connect(hub, hub.token, undefined);
    const carolC = await connect(hub, hub.token, ['file:///carol2']);
    const dave = await connect(hub, daveToken, ['file:///dave']);
    open.push(carolA, carolB, carolC, dave);
    expect(await rootsSeen(carolA)).toEqual(['file:///carol']);
    // A client that declared no roots has none to show: never the other client's.
    expect(await rootsSeen(carolB)).toEqual([]);
    expect(await rootsSeen(carolC)).toEqual(['file:///carol2']);
    expect(await rootsSeen(dave)).toEqual(['file:///dave']);
    expect(await rootsSeen(carolA)).toEqual(['file:///carol']);
    // Calls that do not need roots are not refused for a client without them.
    const echoed = (await carolB.callTool({ name: 'ev__echo', arguments: {} })) as CallToolResult;
    expect(echoed.content).toEqual([{ type: 'text', text: 'echo' }]);
    expect(await rootsSeen(carolC)).toEqual(['file:///carol2']);
  });

  it('an ask on the side during a new user’s first call, from a client without roots, is refused to the server and the call goes on', async () => {
    for (const [user, era] of [
      ['erin', 'legacy'],
      ['frank', 'auto'],
    ] as const) {
      const client = await connect(hub, (await hub.hub.tokens.create({ user })).token, undefined, era);
      open.push(client);
      const r = (await client.callTool({ name: 'ev__busy', arguments: {} })) as CallToolResult;
      expect(r.isError, user).toBeFalsy();
      expect(r.content).toEqual([{ type: 'text', text: 'refused' }]);
    }
  });

  it('a 2026-07-28 client of the same user is not shown the 2025 client’s roots', async () => {
    const carolA = await connect(hub, hub.token, ['file:///carol']);
    const modern = await connect(hub, hub.token, ['file:///carol-modern'], 'auto');
    open.push(carolA, modern);
    expect(await rootsSeen(carolA)).toEqual(['file:///carol']);
    const seen = await rootsSeen(modern);
    expect(seen).not.toContain('file:///carol');
  });
});

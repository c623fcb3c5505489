import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolResultSchema,
  ListRootsRequestSchema,
  ListRootsResultSchema,
  RootsListChangedNotificationSchema,
  type Root,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A 2025-era HTTP server that keeps its session's roots as server-filesystem and server-everything
 * do: asked once, then again only when told `notifications/roots/list_changed`. A client whose
 * roots change says so with that notification; through the hub, the server must hear of it too,
 * or it keeps serving the folders the client no longer offers.
 */
/** How many `notifications/roots/list_changed` the server was sent, all sessions together. */
let changesTold = 0;

function rootsCachingServer(): Promise<{ url: string; server: Server }> {
  const roots = new Map<string, Root[]>();
  const build = () => {
    const s = new McpServer({ name: 'caching-roots', version: '1.0.0' });
    // A server that asks only when a call needs the roots, not when told they changed.
    s.registerTool('roots-now', { description: 'Asks the roots during the call' }, async (extra) => {
      const r = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
      return { content: [{ type: 'text', text: JSON.stringify(r.roots.map((root) => root.uri)) }] };
    });
    s.registerTool('echo', { description: 'Needs no roots' }, async () => ({ content: [{ type: 'text', text: 'echo' }] }));
    const ask = async (sid: string): Promise<void> => {
      roots.set(sid, (await s.server.listRoots()).roots);
    };
    // The session's roots, once get-roots-list asked for them, are asked again when told they changed.
    let cached: string | undefined;
    s.server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
      changesTold++;
      if (cached !== undefined) void ask(cached).catch(() => {});
    });
    s.registerTool('get-roots-list', { description: 'The roots this session knows' }, async (extra) => {
      const sid = extra.sessionId ?? '';
      if (!roots.has(sid)) {
        cached = sid;
        await ask(sid).catch(() => {});
      }
      return { content: [{ type: 'text', text: JSON.stringify((roots.get(sid) ?? []).map((r) => r.uri)) }] };
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

/** A client whose roots can change: `set` replaces them and tells its server, as a client does when the user opens another folder. */
interface RootsClient {
  seen: () => Promise<string[]>;
  call: (tool: string) => Promise<string>;
  set: (uris: string[]) => Promise<void>;
  close: () => Promise<void>;
}

async function v2Client(hub: RunningHub, uris: string[], token = hub.token): Promise<RootsClient> {
  let roots = uris;
  const client = new Client(
    { name: 'roots-changing', version: '1.0.0' },
    { capabilities: { roots: { listChanged: true } }, versionNegotiation: { mode: 'legacy' } },
  );
  client.setRequestHandler('roots/list', async () => ({ roots: roots.map((uri) => ({ uri })) }));
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return {
    seen: async () => {
      const r = (await client.callTool({ name: 'ev__get-roots-list', arguments: {} })) as CallToolResult;
      return JSON.parse((r.content[0] as { text: string }).text) as string[];
    },
    call: async (tool) => {
      const r = (await client.callTool({ name: `ev__${tool}`, arguments: {} })) as CallToolResult;
      return (r.content[0] as { text: string }).text;
    },
    set: async (next) => {
      roots = next;
      await client.sendRootsListChanged();
    },
    close: () => client.close(),
  };
}

async function v1Client(hub: RunningHub, uris: string[]): Promise<RootsClient> {
  let roots = uris;
  const client = new ClientV1({ name: 'roots-changing-v1', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.map((uri) => ({ uri })) }));
  await client.connect(new TransportV1(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  return {
    seen: async () => {
      const r = await client.callTool({ name: 'ev__get-roots-list', arguments: {} }, CallToolResultSchema);
      return JSON.parse(((r.content as { text: string }[])[0] as { text: string }).text) as string[];
    },
    call: async (tool) => {
      const r = await client.callTool({ name: `ev__${tool}`, arguments: {} }, CallToolResultSchema);
      return ((r.content as { text: string }[])[0] as { text: string }).text;
    },
    set: async (next) => {
      roots = next;
      await client.sendRootsListChanged();
    },
    close: () => client.close(),
  };
}

describe('a client’s notifications/roots/list_changed reaches the server that keeps its roots', () => {
  let hub: RunningHub;
  let server: Server;

  beforeAll(async () => {
    const ev = await rootsCachingServer();
    server = ev.server;
    hub = await startHub({ mcpServers: { ev: { url: ev.url } } });
  });

  afterAll(async () => {
    await hub?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  for (const [kind, connect] of [
    ['v2 SDK client (2025-11-25)', v2Client],
    ['1.x SDK client', v1Client],
  ] as const) {
    it(`${kind}: the next call sees the roots it changed to`, async () => {
      const client = await connect(hub, ['file:///project-a']);
      try {
        expect(await client.seen()).toEqual(['file:///project-a']);
        await client.set(['file:///project-b']);
        expect(await client.seen()).toEqual(['file:///project-b']);
        // And again: each change is told, not only the first.
        await client.set(['file:///project-b', 'file:///project-c']);
        expect(await client.seen()).toEqual(['file:///project-b', 'file:///project-c']);
      } finally {
        await client.close();
      }
    });
  }

  it('a server that asks roots only in calls is told of a change once, not before every call', async () => {
    // Another user: a session of its own, whose server never cached roots.
    const client = await v2Client(hub, ['file:///one'], (await hub.hub.tokens.create({ user: 'erin' })).token);
    try {
      expect(await client.call('roots-now')).toBe('["file:///one"]');
      const before = changesTold;
      await client.set(['file:///two']);
      expect(await client.call('echo')).toBe('echo');
      expect(await client.call('echo')).toBe('echo');
      expect(changesTold - before).toBe(1);
      expect(await client.call('roots-now')).toBe('["file:///two"]');
    } finally {
      await client.close();
    }
  });
});

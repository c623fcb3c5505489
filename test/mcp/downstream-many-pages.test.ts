import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListPromptsRequestSchema, ListResourcesRequestSchema, ReadResourceRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const RESOURCES = 150;
const PROMPTS = 70;

/** One item per page, from an opaque cursor: a server that pages small, as many do, and holds many items. */
function page<T>(items: T[], cursor: string | undefined): { page: T[]; nextCursor?: string } {
  const at = cursor === undefined ? 0 : Number(cursor.slice(1));
  return { page: items.slice(at, at + 1), ...(at + 1 < items.length ? { nextCursor: `c${at + 1}` } : {}) };
}

/** A 2025-era HTTP server whose resources and prompts take more than 64 pages to list. */
function manyPagesServer(): Promise<{ url: string; server: HttpServer }> {
  const resources = Array.from({ length: RESOURCES }, (_, i) => ({ uri: `pages://r/${i}`, name: `r${i}` }));
  const prompts = Array.from({ length: PROMPTS }, (_, i) => ({ name: `p${i}` }));
  const build = () => {
    const s = new McpServer({ name: 'many-pages', version: '1.0.0' }, { capabilities: { resources: {}, prompts: {} } });
    s.registerTool('echo', { description: 'Answers at once' }, async () => ({ content: [{ type: 'text', text: 'echo' }] }));
    s.server.setRequestHandler(ListResourcesRequestSchema, async (r) => {
      const p = page(resources, r.params?.cursor);
      return { resources: p.page, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
    });
    s.server.setRequestHandler(ReadResourceRequestSchema, async (r) => ({ contents: [{ uri: r.params.uri, text: `read ${r.params.uri}` }] }));
    s.server.setRequestHandler(ListPromptsRequestSchema, async (r) => {
      const p = page(prompts, r.params?.cursor);
      return { prompts: p.page, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

/** Every page of one hub list, walked with its cursors. */
async function walk(client: Client, method: 'resources/list' | 'prompts/list'): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const r = (await client.request({ method, params: cursor === undefined ? {} : { cursor } })) as {
      resources?: { uri: string }[];
      prompts?: { name: string }[];
      nextCursor?: string;
    };
    names.push(...(r.resources?.map((x) => x.uri) ?? []), ...(r.prompts?.map((x) => x.name) ?? []));
    cursor = r.nextCursor;
  } while (cursor !== undefined);
  return names;
}

describe('a downstream server whose lists take more than 64 pages', () => {
  let hub: RunningHub;
  let server: HttpServer;
  let client: Client;

  beforeAll(async () => {
    const s = await manyPagesServer();
    server = s.server;
    hub = await startHub({ mcpServers: { pages: { url: s.url } } });
    client = new Client({ name: 'pages-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  it('is served: its tools are called and every resource and prompt is listed', async () => {
    expect(hub.hub.catalog.source('pages')?.status()).toMatchObject({ state: 'ready' });
    const r = await client.callTool({ name: 'pages__echo', arguments: {} });
    expect(r.content).toEqual([{ type: 'text', text: 'echo' }]);
    const uris = await walk(client, 'resources/list');
    expect(uris.filter((u) => u.startsWith('pages://'))).toEqual(Array.from({ length: RESOURCES }, (_, i) => `pages://r/${i}`));
    const prompts = await walk(client, 'prompts/list');
    expect(prompts.filter((p) => p.startsWith('pages__'))).toHaveLength(PROMPTS);
  });
});

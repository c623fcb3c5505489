import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * An HTTP downstream that answers a request with an HTTP error and an empty body, as most do: its
 * credentials were rotated (401), or it is overloaded (503). The caller is told the status and
 * what it means, not the SDK's bare "Error POSTing to endpoint: ".
 */
async function guarded(): Promise<{ url: string; answer: (status: number | undefined) => void; stop: () => void }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let refuse: number | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (refuse !== undefined) return void res.writeHead(refuse, refuse === 401 ? { 'www-authenticate': 'Bearer realm="web"' } : {}).end();
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? sessions.get(id) : undefined;
    if (existing) return void existing.handleRequest(req, res);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    const s = new McpServer({ name: 'guarded', version: '1.0.0' });
    s.registerTool('echo', { description: 'Answers at once' }, async () => ({ content: [{ type: 'text', text: 'echo' }] }));
    void s.connect(transport).then(() => transport.handleRequest(req, res));
  };
  const server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    answer: (status) => {
      refuse = status;
    },
    stop: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('an HTTP downstream answering a call with an HTTP error', () => {
  let hub: RunningHub;
  let server: Awaited<ReturnType<typeof guarded>>;
  let client: Client;

  beforeAll(async () => {
    server = await guarded();
    hub = await startHub({ mcpServers: { web: { url: server.url, headers: { Authorization: 'Bearer good' } } } });
    client = new Client({ name: 'http-status-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    expect(((await client.callTool({ name: 'web__echo', arguments: {} })) as CallToolResult).isError ?? false).toBe(false);
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    server?.stop();
  });

  it.each([
    [
      401,
      'downstream_error',
      false,
      'web: tool echo: the server answered HTTP 401 Unauthorized: it refused the credentials the hub sends (mcpServers.web.headers)',
    ],
    [503, 'source_unavailable', true, 'web: tool echo: the server answered HTTP 503 Service Unavailable'],
  ])('HTTP %i: the error names the status (%s, retryable %s)', async (status, code, retryable, text) => {
    server.answer(status);
    try {
      const r = (await client.callTool({ name: 'web__echo', arguments: {} })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(r.content).toEqual([{ type: 'text', text }]);
      expect(r._meta?.['switchboard/error']).toEqual({ code, retryable });
    } finally {
      server.answer(undefined);
    }
  });
});

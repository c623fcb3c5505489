import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A 2025-era server that samples with tools (MCP 2025-11-25, `tools` in sampling/createMessage)
 * through the 1.x SDK's `createMessage`, which refuses before sending unless the client declared
 * `sampling.tools`. Through the hub the hub is that client: it must declare what its callers may
 * answer, and refuse per call a caller that did not declare it.
 */
function toolSamplingServer(): Promise<{ url: string; server: HttpServer }> {
  const build = () => {
    const s = new McpServer({ name: 'tool-sampler', version: '1.0.0' });
    s.registerTool('weather', { description: 'Asks the client’s model, offering it a tool' }, async (extra) => {
      try {
        const res = await s.server.createMessage(
          {
            messages: [{ role: 'user', content: { type: 'text', text: 'Weather in Paris?' } }],
            maxTokens: 50,
            tools: [{ name: 'get_weather', inputSchema: { type: 'object', properties: { city: { type: 'string' } } } }],
            toolChoice: { mode: 'auto' },
          },
          { relatedRequestId: extra.requestId },
        );
        return { content: [{ type: 'text', text: JSON.stringify(res.content) }] };
      } catch (err) {
        return { content: [{ type: 'text', text: `failed: ${err instanceof Error ? err.message : String(err)}` }], isError: true };
      }
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

async function connect(hub: RunningHub, tools: boolean): Promise<Client> {
  const client = new Client(
    { name: 'sampling-client', version: '1.0.0' },
    { capabilities: { sampling: tools ? { tools: {} } : {} }, versionNegotiation: { mode: 'legacy' } },
  );
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant',
    content: [{ type: 'tool_use', id: 'call-1', name: 'get_weather', input: { city: 'Paris' } }],
    model: 'test-model',
    stopReason: 'toolUse',
  }));
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  return client;
}

describe('sampling with tools from a 2025-era server', () => {
  let hub: RunningHub;
  let server: HttpServer;

  beforeAll(async () => {
    const s = await toolSamplingServer();
    server = s.server;
    hub = await startHub({ mcpServers: { ts: { url: s.url } } });
  });

  afterAll(async () => {
    await hub?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  it('reaches a caller that declared sampling.tools, and its tool_use comes back', async () => {
    const client = await connect(hub, true);
    try {
      const r = (await client.callTool({ name: 'ts__weather', arguments: {} })) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect(JSON.parse((r.content[0] as { text: string }).text)).toEqual([{ type: 'tool_use', id: 'call-1', name: 'get_weather', input: { city: 'Paris' } }]);
    } finally {
      await client.close();
    }
  });

  it('is refused to a caller that declared sampling without tools: the -32021 naming sampling.tools', async () => {
    const client = await connect(hub, false);
    try {
      await expect(client.callTool({ name: 'ts__weather', arguments: {} })).rejects.toMatchObject({
        code: -32021,
        message: expect.stringContaining('sampling.tools'),
      });
    } finally {
      await client.close();
    }
  });
});

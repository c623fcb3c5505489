import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, tmpDir } from '../helpers/hub.js';
import { CLI } from '../helpers/hub.js';

/**
 * A server that adds tools once initialized and announces each (server-everything registers its
 * conditional tools so): its announcements arrive while the hub still connects to it. Clients
 * hear `tools/list_changed` only when the lists differ from what they could have listed: on a
 * cold start (the first list waited for the server) and a warm one (answered from the cache) alike.
 */
const LATE_TOOLS = `
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListResourcesRequestSchema } from '@modelcontextprotocol/sdk/types.js';
const s = new McpServer({ name: 'late', version: '1.0.0' });
const text = { content: [{ type: 'text', text: 'ok' }] };
s.registerTool('always', { description: 'there from the start' }, async () => text);
// Its resources take a moment to list (server-everything has many lists): the hub's first listing
// is still under way when the announcements of the tools added at initialization are answered.
s.server.registerCapabilities({ resources: {} });
s.server.setRequestHandler(ListResourcesRequestSchema, async () => {
  await new Promise((r) => setTimeout(r, 300));
  return { resources: [] };
});
s.server.oninitialized = () => {
  s.registerTool('after-init', { description: 'added once initialized' }, async () => text);
  s.registerTool('after-init-2', { description: 'and another' }, async () => text);
};
await s.connect(new StdioServerTransport());
`;

describe('a server that announces tools during the handshake', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  async function start(config: string, data: string): Promise<{ tools: string[]; changes: number }> {
    const client = new ClientV1({ name: 'desktop', version: '1.0.0' });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    await client.connect(
      new StdioClientTransportV1({
        command: process.execPath,
        args: [CLI, 'stdio', '--no-http', '--config', config, '--data', data],
        cwd: '/',
        stderr: 'ignore',
      }),
    );
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      // Long enough for the server to start, list, announce and be listed again.
      await new Promise((r) => setTimeout(r, 2_000));
      return { tools, changes };
    } finally {
      await client.close();
    }
  }

  it('sends clients no list_changed, cold or warm, when its lists are what they listed', async () => {
    dir = tmpDir();
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { late: { command: process.execPath, args: ['--input-type=module', '-e', LATE_TOOLS], cwd: ROOT } } }));
    const all = ['late__after-init', 'late__after-init-2', 'late__always'];
    expect(await start(config, join(dir.path, 'data'))).toEqual({ tools: all, changes: 0 });
    expect(await start(config, join(dir.path, 'data'))).toEqual({ tools: all, changes: 0 });
  });
});

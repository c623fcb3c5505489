/**
 * A hand-written server often declares `prompts` or `resources` and registers no list handler: it
 * answers prompts/list and resources/list with -32601. An SDK client connected to it directly lists
 * and calls its tools regardless, and so must the hub: such a list reads as empty, told once per
 * connection, while any other failure of a list still fails the listing.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fetchLists, NO_LISTS, type UnimplementedList } from '../../src/mcp/downstream/lists.js';
import { bearerClient } from '../helpers/clients.js';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

/** A 1.x SDK low-level Server declaring tools, prompts and resources, with tools only (and prompts/list failing, if told to). */
const server = (promptsFail: boolean) => `
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListPromptsRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
const s = new Server({ name: 'np', version: '1' }, { capabilities: { tools: {}, prompts: {}, resources: {} } });
s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'hello', inputSchema: { type: 'object' } }] }));
s.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: 'text', text: 'hello back' }] }));
if (${promptsFail}) s.setRequestHandler(ListPromptsRequestSchema, async () => { throw new Error('prompt store unavailable'); });
await s.connect(new StdioServerTransport());
`;

const command = (promptsFail = false) => ({ command: process.execPath, args: ['--input-type=module', '-e', server(promptsFail)], cwd: ROOT });

describe('a server that declares a list it does not implement', () => {
  const closers: Array<() => Promise<unknown>> = [];
  let hub: RunningHub | undefined;
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close().catch(() => {})));
  });
  afterAll(async () => hub?.stop());

  async function connected(promptsFail = false): Promise<Client> {
    const client = new Client({ name: 'lists-test', version: '1' });
    await client.connect(new StdioClientTransport({ ...command(promptsFail), stderr: 'ignore' }));
    closers.push(() => client.close());
    return client;
  }

  it('has its tools listed and called through the hub, which warns once of each list it reads as empty', async () => {
    const lines: string[] = [];
    hub = await startHub({ mcpServers: { np: command() } }, { log: capturedLogger(lines) });
    expect(
      hub.hub.catalog
        .sources()
        .find((s) => s.name === 'np')
        ?.status().state,
    ).toBe('ready');
    const client = await bearerClient(hub.url, hub.token);
    closers.push(() => client.close());
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['np__hello']);
    expect((await client.listPrompts()).prompts).toEqual([]);
    const result = await client.callTool({ name: 'np__hello', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'hello back' }]);
    const warned = lines.filter((l) => l.includes('does not implement')).map((l) => JSON.parse(l) as { level: number; source: string; method: string });
    expect(warned.map((w) => [w.level, w.source, w.method]).sort()).toEqual([
      [40, 'np', 'prompts/list'],
      [40, 'np', 'resources/list'],
    ]);
  });

  it('reads as empty lists, each method told once however often it is read again', async () => {
    const client = await connected();
    const told: UnimplementedList[] = [];
    const opts = { timeout: 10_000, unimplemented: (m: UnimplementedList) => void told.push(m) };
    const lists = await fetchLists(client, NO_LISTS, 'all', opts);
    expect(lists).toEqual({ tools: [{ name: 'hello', inputSchema: { type: 'object' } }], resources: [], resourceTemplates: [], prompts: [] });
    await fetchLists(client, lists, 'prompts', { ...opts, cache: 'refresh' });
    await fetchLists(client, lists, 'resources', { ...opts, cache: 'refresh' });
    expect(told.sort()).toEqual(['prompts/list', 'resources/list']);
  });

  it('still fails the listing on any other error of a list', async () => {
    const client = await connected(true);
    const told: UnimplementedList[] = [];
    await expect(fetchLists(client, NO_LISTS, 'all', { timeout: 10_000, unimplemented: (m) => void told.push(m) })).rejects.toThrow(/prompt store unavailable/);
    expect(told).toEqual(['resources/list']);
  });
});

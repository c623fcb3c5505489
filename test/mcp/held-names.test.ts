import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/identity.js';
import { Catalog } from '../../src/mcp/catalog.js';
import { HeldNames } from '../../src/mcp/held-names.js';
import { stableHash } from '../../src/mcp/naming.js';
import type { SourceChange, SourceState, SourceStatus, ToolSource } from '../../src/mcp/source.js';
import { CLI, ROOT, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A tool name, once listed, keeps meaning the tool it was listed for: a client that lists once
 * (Claude Desktop), an agent's allow-list or a model mid-conversation cannot tell when a name
 * moves, and would run another tool with arguments meant for the first.
 */

// A 1.x-SDK server: `who` answers every call with its own name and the tool's; `gate`, when set,
// is a file it waits for before it serves (an `npx -y` download); `upgrade` adds `get.user` ahead
// of `get_user` and announces it before it answers (a new version, a plugin).
const SERVER = `
import { existsSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
const [who, gate] = [process.env.WHO, process.env.GATE];
while (gate && !existsSync(gate)) await new Promise((r) => setTimeout(r, 50));
let upgraded = false;
const s = new Server({ name: who, version: '1' }, { capabilities: { tools: { listChanged: true } } });
const tool = (name) => ({ name, description: name + ' of ' + who, inputSchema: { type: 'object' } });
s.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [...(upgraded ? [tool('get.user')] : []), tool('get_user'), tool('search'), tool('upgrade')],
}));
s.setRequestHandler(CallToolRequestSchema, async (r) => {
  if (r.params.name === 'upgrade') {
    upgraded = true;
    await s.sendToolListChanged();
  }
  return { content: [{ type: 'text', text: who + ':' + r.params.name }] };
});
await s.connect(new StdioServerTransport());
`;

describe('a tool name once listed', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => dir.remove());

  function configure(servers: Record<string, Record<string, unknown>>): string {
    const config = join(dir.path, 'switchboard.config.json');
    const entry = (extra: Record<string, unknown>) => ({ command: process.execPath, args: ['--input-type=module', '-e', SERVER], cwd: ROOT, ...extra });
    writeFileSync(config, JSON.stringify({ mcpServers: Object.fromEntries(Object.entries(servers).map(([k, v]) => [k, entry(v)])) }));
    return config;
  }

  async function session<T>(config: string, use: (client: ClientV1) => Promise<T>): Promise<T> {
    const client = new ClientV1({ name: 'desktop', version: '1.0.0' });
    const args = [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')];
    await client.connect(new StdioClientTransportV1({ command: process.execPath, args, cwd: '/', stderr: 'ignore' }));
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }

  const text = async (client: ClientV1, name: string) => ((await client.callTool({ name, arguments: {} })) as CallToolResult).content[0];

  it('still runs the same tool after its server lists a tool whose name sanitizes to the same', async () => {
    const config = configure({ s: { env: { WHO: 's' } } });
    await session(config, async (client) => {
      expect(await text(client, 's__get_user')).toEqual({ type: 'text', text: 's:get_user' });
      await text(client, 's__upgrade');
      // The call after the one that changed the list is answered from the list read again.
      expect(await text(client, 's__get_user')).toEqual({ type: 'text', text: 's:get_user' });
      const newcomer = `s__get_user_${stableHash('s', 'get.user')}`;
      expect(await text(client, newcomer)).toEqual({ type: 'text', text: 's:get.user' });
      const listed = (await client.listTools()).tools.map((t) => [t.name, t.description]);
      expect(listed).toEqual([
        [newcomer, 'get.user of s'],
        ['s__get_user', 'get_user of s'],
        ['s__search', 'search of s'],
        ['s__upgrade', 'upgrade of s'],
      ]);
    });
  });

  it('keeps an unprefixed name for the server it was listed for when an earlier server starts late', async () => {
    const gate = join(dir.path, 'gate');
    const config = configure({
      a: { env: { WHO: 'a', GATE: gate }, prefix: false, startupTimeoutMs: 300 },
      b: { env: { WHO: 'b' }, prefix: false },
    });
    const late = `search_${stableHash('a', 'search')}`;
    await session(config, async (client) => {
      const first = (await client.listTools()).tools.find((t) => t.name === 'search');
      expect(first?.description).toBe('search of b');
      writeFileSync(gate, '');
      await eventually(async () => (await client.listTools()).tools.some((t) => t.name === late));
      expect(await text(client, 'search')).toEqual({ type: 'text', text: 'b:search' });
      expect(await text(client, late)).toEqual({ type: 'text', text: 'a:search' });
    });
    // A fresh process assigns in config order from the cached lists, as every start does.
    await session(config, async (client) => {
      expect(await text(client, 'search')).toEqual({ type: 'text', text: 'a:search' });
    });
  });
});

const alice: Identity = { tenant: 'default', user: 'alice', scopes: ['mcp'] };
const bob: Identity = { tenant: 'default', user: 'bob', scopes: ['mcp'] };

/** An unprefixed in-memory source whose tools (some per user) and state a test changes. */
class MemorySource implements ToolSource {
  readonly kind = 'fixture';
  readonly prefix = false;
  private state: SourceState = 'ready';
  private readonly listeners = new Set<(c: SourceChange) => void>();

  constructor(
    readonly name: string,
    private readonly shared: string[],
    private readonly perUser: Record<string, string[]> = {},
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return { state: this.state, since: 0, restarts: 0 };
  }
  tools(identity: Identity): readonly Tool[] {
    return [...this.shared, ...(this.perUser[identity.user] ?? [])].map((name) => ({ name, inputSchema: { type: 'object' } }));
  }
  async callTool(): Promise<CallToolResult> {
    return { content: [] };
  }
  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(change: { state?: SourceState; perUser?: Record<string, string[]> }): void {
    if (change.state) this.state = change.state;
    if (change.perUser) Object.assign(this.perUser, change.perUser);
    for (const l of this.listeners) l({ kind: 'tools' });
  }
}

const owners = (catalog: Catalog, identity: Identity) => catalog.view(identity).tools.map((e) => `${e.name}=${e.source.name}`);

describe('names held by the catalog', () => {
  it('gives a name held by a server that is down to no other, and back to it when it returns', () => {
    const catalog = new Catalog();
    const a = new MemorySource('a', ['search']);
    catalog.add(a);
    catalog.add(new MemorySource('b', ['search']));
    const suffixed = `search_${stableHash('b', 'search')}`;
    expect(owners(catalog, alice)).toEqual(['search=a', `${suffixed}=b`]);
    a.set({ state: 'failed' });
    expect(owners(catalog, alice)).toEqual([`${suffixed}=b`]);
    expect(catalog.resolveTool(alice, 'search')).toBeUndefined();
    a.set({ state: 'ready' });
    expect(owners(catalog, alice)).toEqual(['search=a', `${suffixed}=b`]);
  });

  it('holds names per identity: each one’s first list is assigned in order, later tools are suffixed', () => {
    const catalog = new Catalog();
    const a = new MemorySource('a', [], { bob: ['search'] });
    catalog.add(a);
    catalog.add(new MemorySource('b', ['search']));
    expect(owners(catalog, bob)).toEqual(['search=a', `search_${stableHash('b', 'search')}=b`]);
    expect(owners(catalog, alice)).toEqual(['search=b']);
    a.set({ perUser: { alice: ['search'] } });
    expect(owners(catalog, alice)).toEqual([`search_${stableHash('a', 'search')}=a`, 'search=b']);
    expect(owners(catalog, bob)).toEqual(['search=a', `search_${stableHash('b', 'search')}=b`]);
  });

  it('releases the oldest names of tools gone from the list past maxAbsent, and the least recent identity past maxIdentities', () => {
    const held = new HeldNames({ maxAbsent: 2, maxIdentities: 2 });
    const claims = (source: string, ...tools: string[]) => tools.map((tool) => ({ source, tool, prefix: false }));
    expect(held.assign('alice', claims('a', 't1', 't2', 't3'))).toEqual(['t1', 't2', 't3']);
    // Past two names of tools gone, the one held longest (t1) is released; t2 and t3 stay a's.
    expect(held.assign('alice', [])).toEqual([]);
    expect(held.assign('alice', claims('b', 't1', 't2', 't3'))).toEqual(['t1', `t2_${stableHash('b', 't2')}`, `t3_${stableHash('b', 't3')}`]);
    held.assign('bob', claims('a', 'x'));
    held.assign('carol', claims('a', 'x'));
    // alice listed least recently: her names went, so her next list is assigned afresh.
    expect(held.assign('alice', claims('c', 't2'))).toEqual(['t2']);
    expect(held.assign('carol', claims('b', 'x'))).toEqual([`x_${stableHash('b', 'x')}`]);
  });
});

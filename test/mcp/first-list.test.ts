import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PromptListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURE, tmpDir, eventually } from '../helpers/hub.js';

/**
 * Claude Desktop's way: the 1.x SDK client over `switchboard stdio`, one tools/list per session.
 * That first list must hold every downstream tool, on a cold start without a cached list (the hub
 * waits for the server) and with one (the hub answers from the cache while the server starts).
 */
describe('the first tools/list over stdio', () => {
  let dir: ReturnType<typeof tmpDir>;
  let config: string;
  let delayFile: string;
  let toolsFile: string;

  beforeAll(() => {
    dir = tmpDir();
    delayFile = join(dir.path, 'delay');
    toolsFile = join(dir.path, 'tools');
    writeFileSync(toolsFile, '0');
    config = join(dir.path, 'switchboard.config.json');
    // The downstream starts after the delay written in a file, with as many bulk tools and prompts
    // as another says, so the config (and with it the cache key) stays the same while the start-up time and
    // the server's tools change between runs (an `npx -y` package upgraded, say).
    const boot =
      "const fs = require('fs'); process.env.FIXTURE_TOOLS = process.env.FIXTURE_PROMPTS = fs.readFileSync(process.argv[3], 'utf8'); setTimeout(() => import(process.argv[1]), Number(fs.readFileSync(process.argv[2], 'utf8')))";
    writeFileSync(
      config,
      JSON.stringify({ mcpServers: { fx: { command: process.execPath, args: ['-e', boot, FIXTURE, delayFile, toolsFile], startupTimeoutMs: 15_000 } } }),
    );
  });
  afterAll(() => dir?.remove());

  /** One session of Claude Desktop's: what `use` does with the client, then close. */
  async function session<T>(use: (client: ClientV1) => Promise<T>, data = 'data'): Promise<T> {
    const client = new ClientV1({ name: 'claude-desktop-like', version: '1.0.0' }, { capabilities: {} });
    // Claude Desktop starts servers with / as the working directory.
    const transport = new StdioClientTransportV1({
      command: process.execPath,
      args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, data)],
      cwd: '/',
      stderr: 'ignore',
    });
    await client.connect(transport);
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  }

  const firstList = () => session(async (client) => (await client.listTools()).tools.map((t) => t.name));

  const echo = async (client: ClientV1) => JSON.stringify((await client.callTool({ name: 'fx__echo', arguments: { text: 'hello' } })).content);

  it('a call before any list, with no cached list, waits for the server instead of "Unknown tool"', async () => {
    writeFileSync(delayFile, '1500');
    expect(await session(echo, 'data-call-first')).toContain('hello');
  });

  it('waits for a server with no cached list', async () => {
    writeFileSync(delayFile, '1500');
    expect(await firstList()).toContain('fx__echo');
  });

  it('answers from the cached list while the server is still starting', async () => {
    // Longer than startupTimeoutMs: without the cache this list would come back without fx's tools.
    writeFileSync(delayFile, '25000');
    const names = await firstList();
    expect(names).toContain('fx__echo');
    expect(names).toContain('fx__add');
  });

  // With a cached list the server's process starts once the first list has been answered (or a
  // moment after start): a call in between waits for it like a call to any server still starting.
  it('answers a call made right after the cached list, once the server is up', async () => {
    writeFileSync(delayFile, '0');
    const text = await session(async (client) => {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('fx__echo');
      return echo(client);
    });
    expect(text).toContain('hello');
  });

  it('starts the server for a client that calls without listing first', async () => {
    writeFileSync(delayFile, '0');
    expect(await session(echo)).toContain('hello');
  });

  it('a tool the server gained since its list was cached is called once the server is up, not refused as unknown', async () => {
    writeFileSync(delayFile, '0');
    writeFileSync(toolsFile, '0');
    expect(await firstList()).not.toContain('fx__bulk_000');
    writeFileSync(delayFile, '1500');
    writeFileSync(toolsFile, '1');
    const called = await session(async (client) => JSON.stringify((await client.callTool({ name: 'fx__bulk_000', arguments: {} })).content));
    expect(called).toContain('bulk_000');
    writeFileSync(toolsFile, '0');
  });

  it('every list that differs from the cached ones is announced once the server is up, not only the tools', async () => {
    writeFileSync(delayFile, '0');
    writeFileSync(toolsFile, '0');
    // A data dir of its own, whose cache holds the lists of this first session's server.
    await session(echo, 'data-lists');
    // The server upgraded: one more tool and one more prompt than the cached lists hold.
    writeFileSync(delayFile, '1500');
    writeFileSync(toolsFile, '1');
    const announced = await session(async (client) => {
      const changed = new Set<string>();
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed.add('tools'));
      client.setNotificationHandler(PromptListChangedNotificationSchema, () => void changed.add('prompts'));
      // Both from the cache: the server is still starting.
      expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('fx__bulk_000');
      expect((await client.listPrompts()).prompts.map((p) => p.name)).not.toContain('fx__bulk_prompt_000');
      await eventually(async () => (changed.has('tools') && changed.has('prompts')) || undefined);
      return (await client.listPrompts()).prompts.map((p) => p.name);
    }, 'data-lists');
    expect(announced).toContain('fx__bulk_prompt_000');
    writeFileSync(toolsFile, '0');
  });

  it('tools a server added at run time are not cached: the next session lists what a fresh start lists', async () => {
    writeFileSync(delayFile, '0');
    await session(async (client) => {
      await client.callTool({ name: 'fx__add_tool', arguments: { name: 'ghost' } });
      // The hub reads the list again on the server's list_changed: the tool is there for this session.
      await eventually(async () => (await client.listTools()).tools.some((t) => t.name === 'fx__ghost') || undefined);
    });
    // Longer than startupTimeoutMs: this first list is the cache's.
    writeFileSync(delayFile, '25000');
    const names = await firstList();
    expect(names).toContain('fx__echo');
    expect(names).not.toContain('fx__ghost');
  });
});

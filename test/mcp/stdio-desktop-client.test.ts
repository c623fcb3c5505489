import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, ROOT, tmpDir } from '../helpers/hub.js';

/**
 * What a desktop client (the 1.x SDK, as Claude Desktop embeds it) does over stdio in its first
 * minutes, against the real `switchboard stdio`: calls in parallel while a downstream asks for
 * input, and subscribes just after a first list the hub answered from its cache.
 */
const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');

interface Desktop {
  client: ClientV1;
  /** Prompts this client was shown (elicitation messages, sampling texts). */
  seen: string[];
  updates: string[];
}

async function launch(dir: string, servers: Record<string, unknown>): Promise<Desktop> {
  const config = join(dir, 'switchboard.config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: servers }));
  const client = new ClientV1({ name: 'desktop', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
  const seen: string[] = [];
  const updates: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    seen.push(req.params.message);
    return { action: 'accept', content: { who: `desktop re ${req.params.message}` } };
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const first = req.params.messages[0]?.content;
    const text = first && !Array.isArray(first) && first.type === 'text' ? first.text : '?';
    seen.push(text);
    return { role: 'assistant', model: 'test', content: { type: 'text', text: `sample by desktop re ${text}` } };
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  // As Claude Desktop starts it: the working directory is `/`, every path absolute.
  await client.connect(
    new StdioClientTransportV1({
      command: process.execPath,
      args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir, 'data')],
      cwd: '/',
      stderr: 'ignore',
    }),
  );
  return { client, seen, updates };
}

const text = (r: unknown) => (r as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe('a desktop client over stdio', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  const open: ClientV1[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    dir?.remove();
  });

  it('calls in parallel: a shared server’s elicitation and sampling during one reach the client, and each call gets its own answer', async () => {
    dir = tmpDir();
    const d = await launch(dir.path, { asking: { command: process.execPath, args: [ASKING, '--v1-stdio'] } });
    open.push(d.client);
    await eventually(async () => (await d.client.listTools()).tools.some((t) => t.name === 'asking__hold'), 20_000, 50);
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const held = d.client.callTool({ name: 'asking__hold', arguments: { ms: 1500 } }, undefined, { onprogress: () => started() });
    await inFlight;
    const transfer = await d.client.callTool({ name: 'asking__transfer', arguments: { account: 'A-1' } });
    expect(JSON.parse(text(transfer))).toEqual({ account: 'A-1', who: 'desktop re Confirm transfer for A-1', sampled: 'sample by desktop re Summarize A-1' });
    expect(d.seen.sort()).toEqual(['Confirm transfer for A-1', 'Summarize A-1']);
    expect(text(await held)).toBe('held');
  });

  it('subscribes right after a first list answered from the cache, while the server still starts: its updates come', async () => {
    dir = tmpDir();
    const servers = { asking: { command: process.execPath, args: [ASKING, '--v2-stdio'] } };
    // A first start lists the server and caches its lists.
    const first = await launch(dir.path, servers);
    await eventually(async () => (await first.client.listTools()).tools.some((t) => t.name === 'asking__bump'), 20_000, 50);
    await first.client.close();
    // The next start answers the first list from the cache and starts the server only then.
    const d = await launch(dir.path, servers);
    open.push(d.client);
    expect((await d.client.listTools()).tools.map((t) => t.name)).toContain('asking__bump');
    await d.client.subscribeResource({ uri: 'asking://counter' });
    await d.client.callTool({ name: 'asking__bump', arguments: {} });
    await eventually(() => d.updates.includes('asking://counter') || undefined, 10_000, 20);
  });
});

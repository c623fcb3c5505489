import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FIXTURE, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server with no cached lists that comes up after its startupTimeoutMs: clients listed without
 * it, so each of its lists (tools, prompts, resources) is news once it answers, not only the kind
 * it announced first.
 */
describe('a server that comes up after startupTimeoutMs, with no cached lists', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('has every one of its lists announced to a client that listed without it', async () => {
    dir = tmpDir();
    const config = join(dir.path, 'switchboard.config.json');
    const late = { command: process.execPath, args: ['-e', 'setTimeout(() => import(process.argv[1]), 1500)', FIXTURE], startupTimeoutMs: 200 };
    writeFileSync(config, JSON.stringify({ mcpServers: { fx: late } }));
    client = new ClientV1({ name: 'desktop', version: '1.0.0' });
    const heard = new Set<string>();
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.add('tools'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => void heard.add('prompts'));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void heard.add('resources'));
    await client.connect(
      new StdioClientTransportV1({
        command: process.execPath,
        args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')],
        stderr: 'ignore',
      }),
    );
    const c = client;
    const lists = async () => ({
      tools: (await c.listTools()).tools.some((t) => t.name === 'fx__echo'),
      prompts: (await c.listPrompts()).prompts.some((p) => p.name === 'fx__greet'),
      resources: (await c.listResources()).resources.length > 0,
    });
    // The precondition: the first lists went out without the server.
    expect(await lists()).toEqual({ tools: false, prompts: false, resources: false });
    await eventually(() => heard.has('tools') || undefined, 15_000);
    expect(await lists()).toEqual({ tools: true, prompts: true, resources: true });
    await eventually(() => (heard.has('prompts') && heard.has('resources')) || undefined, 2_000);
  });
});

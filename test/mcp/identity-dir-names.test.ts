import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * `${SWITCHBOARD_USER_DIR}` folders: a name that is not all lower case gets a hash of it
 * appended. The hash is no secret (sha256 of the name), so the folder it makes must be one no
 * other name is kept as: the user `alice-<hash of "Alice">` was given `Alice`'s folder, and with
 * it `Alice`'s server-memory graph.
 */
const MEMORY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

async function connect(hub: RunningHub, token: string): Promise<Client> {
  const client = new Client({ name: 'dir-names-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const namesIn = async (c: Client): Promise<string[]> => {
  const r = (await c.callTool({ name: 'memory__read_graph', arguments: {} })) as CallToolResult;
  expect(r.isError).toBeFalsy();
  return (r.structuredContent as { entities: Array<{ name: string }> }).entities.map((e) => e.name);
};

describe('${SWITCHBOARD_USER_DIR}: no user name is kept as another name folder', () => {
  let hub: RunningHub;
  let upper: Client;
  let lookalike: Client;

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: {
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '${SWITCHBOARD_USER_DIR}/memory.jsonl' }, isolation: 'user' },
      },
    });
    const hash = createHash('sha256').update('Alice').digest('hex').slice(0, 10);
    upper = await connect(hub, (await hub.hub.tokens.create({ user: 'Alice' })).token);
    lookalike = await connect(hub, (await hub.hub.tokens.create({ user: `alice-${hash}` })).token);
  }, 60_000);

  afterAll(async () => {
    for (const c of [upper, lookalike]) await c?.close();
    await hub?.stop();
  });

  it("a lower-case name that spells another's folder gets a folder, and a graph, of its own", async () => {
    const created = (await upper.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'alice-private-note', entityType: 'note', observations: ['salary'] }] },
    })) as CallToolResult;
    expect(created.isError).toBeFalsy();

    expect(await namesIn(lookalike)).toEqual([]);
    expect(await namesIn(upper)).toEqual(['alice-private-note']);
    expect(readdirSync(join(hub.dataDir, 'servers', 'memory', 'users', 'default')).filter((d) => d.startsWith('alice'))).toHaveLength(2);
  });
});

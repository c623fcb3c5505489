import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { configFor } from '../../src/mcp/downstream/identity-config.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * `isolation: "user"` gives each identity a process of its own; `${SWITCHBOARD_USER_DIR}` gives
 * that process a folder of the identity's own. server-memory (a real server users configure)
 * keeps its graph in one file, by default inside its own package: without the placeholder two
 * users' processes read and wrote one graph.
 */
const MEMORY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

async function connect(hub: RunningHub, token: string): Promise<Client> {
  const client = new Client({ name: 'placeholders-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const graphOf = async (c: Client) => {
  const r = (await c.callTool({ name: 'memory__read_graph', arguments: {} })) as CallToolResult;
  expect(r.isError).toBeFalsy();
  return r.structuredContent as { entities: Array<{ name: string; observations: string[] }> };
};

describe('${SWITCHBOARD_USER_DIR} and ${SWITCHBOARD_USER}: a process per identity, and files per identity', () => {
  let hub: RunningHub;
  let alice: Client;
  let bob: Client;
  let Bob: Client;

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: {
        memory: {
          command: process.execPath,
          args: [MEMORY],
          env: { MEMORY_FILE_PATH: '${SWITCHBOARD_USER_DIR}/${SWITCHBOARD_USER}.jsonl' },
          isolation: 'user',
        },
      },
    });
    alice = await connect(hub, hub.token);
    bob = await connect(hub, (await hub.hub.tokens.create({ user: 'bob' })).token);
    // A name differing only in case: one folder on a case-insensitive disk unless the hub tells them apart.
    Bob = await connect(hub, (await hub.hub.tokens.create({ user: 'Bob' })).token);
  }, 60_000);

  afterAll(async () => {
    for (const c of [alice, bob, Bob]) await c?.close();
    await hub?.stop();
  });

  it("each user's graph is their own file in their own folder", async () => {
    const created = (await alice.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'alice-secret-project', entityType: 'project', observations: ['due Friday'] }] },
    })) as CallToolResult;
    expect(created.isError).toBeFalsy();
    await bob.callTool({ name: 'memory__create_entities', arguments: { entities: [{ name: 'bob-plan', entityType: 'plan', observations: [] }] } });

    expect((await graphOf(alice)).entities.map((e) => e.name)).toEqual(['alice-secret-project']);
    expect((await graphOf(bob)).entities.map((e) => e.name)).toEqual(['bob-plan']);
    expect((await graphOf(Bob)).entities).toEqual([]);

    const users = join(hub.dataDir, 'servers', 'memory', 'users', 'default');
    const aliceFile = join(users, 'alice', 'alice.jsonl');
    expect(readFileSync(aliceFile, 'utf8')).toContain('alice-secret-project');
    expect(readFileSync(join(users, 'bob', 'bob.jsonl'), 'utf8')).not.toContain('alice');
    expect(statSync(join(users, 'alice')).mode & 0o777).toBe(0o700);
    // bob and Bob: two folders, whatever the disk's case rules.
    expect(readdirSync(users).filter((d) => d.toLowerCase().startsWith('bob'))).toHaveLength(2);
    // Nothing went to the package's own default file, which every process would share.
    expect(existsSync(join(MEMORY, '..', 'memory.jsonl'))).toBe(false);
  });
});

describe('placeholders where nothing fills them are refused when the config loads', () => {
  const load =
    (config: object, env: NodeJS.ProcessEnv = {}) =>
    () =>
      parseConfigText(JSON.stringify(config), 'switchboard.config.json', env, () => {});

  it('a shared process has no one user to fill them for', () => {
    expect(load({ mcpServers: { memory: { command: 'node', env: { MEMORY_FILE_PATH: '${SWITCHBOARD_USER_DIR}/m.jsonl' } } } })).toThrow(
      /mcpServers\.memory\.env\.MEMORY_FILE_PATH.*needs "isolation": "user"/s,
    );
  });

  it('an HTTP server, or any other key, is never filled', () => {
    expect(load({ mcpServers: { api: { url: 'http://127.0.0.1:1/mcp', headers: { 'x-user': '${SWITCHBOARD_USER}' } } } })).toThrow(
      /mcpServers\.api\.headers\.x-user.*only in a stdio server's command, args, env and cwd/s,
    );
  });

  it('$${…} is the literal text, as for any ${NAME}: never filled, never refused', () => {
    const config = load({
      mcpServers: {
        shared: { command: 'node', args: ['--literal', '$${SWITCHBOARD_USER}'] },
        own: { command: 'node', args: ['$${SWITCHBOARD_USER_DIR}', '${SWITCHBOARD_USER}'], isolation: 'user' },
      },
    })();
    const shared = config.mcpServers.shared;
    expect(shared && 'args' in shared ? shared.args : undefined).toEqual(['--literal', '${SWITCHBOARD_USER}']);
    const own = config.mcpServers.own!;
    const filled = configFor(own, 'own', { tenant: 'default', user: 'alice', scopes: [] });
    expect('args' in filled ? filled.args : undefined).toEqual(['${SWITCHBOARD_USER_DIR}', 'alice']);
  });

  it('the environment never fills them, even when it holds the name', () => {
    const config = load(
      { mcpServers: { memory: { command: 'node', args: ['--user', '${SWITCHBOARD_USER}'], isolation: 'user' } } },
      { SWITCHBOARD_USER: 'someone-else' },
    )();
    const entry = config.mcpServers.memory;
    expect(entry && 'args' in entry ? entry.args : undefined).toEqual(['--user', '${SWITCHBOARD_USER}']);
  });
});

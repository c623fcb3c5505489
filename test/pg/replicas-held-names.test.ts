/**
 * "A name, once listed, keeps meaning the same tool while the hub runs", across replicas: a
 * 2026-07-28 client carries no session, so the list it got from one replica names the tools it
 * calls on the next. Two unprefixed servers, A (first in config) and B; A gains `echo` in an
 * upgrade. Bob lists on replica 0 while A is the old version: `echo` is B's there. Replica 1 has
 * never served bob, and by the time he reaches it A's new version runs there, so its own order
 * would give `echo` to A; it must give him B's, as replica 0 did, and A's the suffix.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stableHash } from '../../src/mcp/naming.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { eventually, ROOT, tmpDir } from '../helpers/hub.js';
import { type Cluster, describeCluster, startCluster } from '../replicas/cluster.js';

// A 1.x-SDK server: `ping` and, unless OLD names a file that exists at its start, `echo`; each
// answers with the server's name. The old version exits once OLD is removed, so each replica's
// supervisor starts the new one (an upgrade rolled out under a running hub).
const SERVER = `
import { existsSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
const [who, old] = [process.env.WHO, process.env.OLD];
const isOld = Boolean(old) && existsSync(old);
if (isOld) setInterval(() => existsSync(old) || process.exit(1), 50);
const s = new Server({ name: who, version: isOld ? '1' : '2' }, { capabilities: { tools: {} } });
const tool = (name) => ({ name, inputSchema: { type: 'object' } });
s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: isOld ? [tool('ping')] : [tool('ping'), tool('echo')] }));
s.setRequestHandler(CallToolRequestSchema, async (r) => ({ content: [{ type: 'text', text: who + ':' + r.params.name }] }));
await s.connect(new StdioServerTransport());
`;

describeCluster('a tool name handed out by one replica', () => {
  const dir = tmpDir('switchboard-held-names-');
  const old = join(dir.path, 'a-is-old');
  let cluster: Cluster;
  const clients: FaceClient[] = [];
  const client = async (replica: number, token: string) => {
    const c = await connectClient('v2-auto', { transport: 'http', url: `${cluster.replicas[replica]!.base}/mcp`, token });
    clients.push(c);
    return c;
  };
  const server = (env: Record<string, string>) => ({ command: process.execPath, args: ['--input-type=module', '-e', SERVER], cwd: ROOT, env, prefix: false });

  beforeAll(async () => {
    writeFileSync(old, '');
    cluster = await startCluster({ replicas: 2, config: { mcpServers: { A: server({ WHO: 'A', OLD: old }), B: server({ WHO: 'B' }) } } });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await cluster?.close();
    dir.remove();
  });

  it('means the same tool on another replica whose own order would have given it to another server', async () => {
    const [bob, alice] = [await cluster.token('bob'), await cluster.token('alice')];
    const names = async (c: FaceClient) => (await c.listPage()).tools.map((t) => t.name);
    const bob0 = await client(0, bob);
    const pingB = `ping_${stableHash('B', 'ping')}`;
    // Both servers up on replica 0, A still the old version: `echo` is B's.
    await eventually(async () => (await names(bob0)).length === 3);
    expect(await names(bob0)).toEqual(['ping', pingB, 'echo']);

    rmSync(old);
    expect(existsSync(old)).toBe(false);
    // Alice (names are held per identity) watches A's new version come up on replica 1.
    const alice1 = await client(1, alice);
    await eventually(async () => (await names(alice1)).length === 4, 20_000);

    // Bob's first request to replica 1 is the call of the name he was listed on replica 0.
    const bob1 = await client(1, bob);
    expect(textOf(await bob1.callTool('echo', {}))).toBe('B:echo');
    const echoA = `echo_${stableHash('A', 'echo')}`;
    expect(await names(bob1)).toEqual(['ping', echoA, pingB, 'echo']);
    expect(textOf(await bob1.callTool(echoA, {}))).toBe('A:echo');
    // And replica 0, once its A runs the new version too, lists him the same names.
    await eventually(async () => (await names(bob0)).length === 4, 20_000);
    expect(await names(bob0)).toEqual(['ping', echoA, pingB, 'echo']);
    expect(textOf(await bob0.callTool('echo', {}))).toBe('B:echo');
  });
});

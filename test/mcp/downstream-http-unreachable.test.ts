import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAskingHttp } from '../helpers/asking.js';
import { runCli, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

/**
 * An HTTP downstream that died (`kill -9`): the first call that cannot reach it shows the server
 * as not ready at once (no waiting for the keepalive to miss twice), and each caller — two users
 * at the same moment — gets a retryable error that names the cause, never fetch's bare "fetch failed".
 */
const REFUSED = /^httpev: connection refused \(ECONNREFUSED 127\.0\.0\.1:\d+\)/;

async function connect(hub: RunningHub, token: string, era: 'legacy' | 'auto'): Promise<Client> {
  const client = new Client({ name: `user-${era}`, version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: era } });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const textOf = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const errorMeta = (r: unknown) => (r as CallToolResult)._meta?.['switchboard/error'];

describe('an HTTP downstream killed under the hub', () => {
  let hub: RunningHub | undefined;
  let child: ChildProcess | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await hub?.stop();
    child?.kill('SIGKILL');
  });

  it('is shown not ready at the first refused call, and both users are told the cause, retryably', async () => {
    const server = await spawnAskingHttp('--v1-http');
    child = server.child;
    hub = await startHub({ mcpServers: { httpev: { url: server.url } } });
    const bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const alice = await connect(hub, hub.token, 'legacy');
    const bob = await connect(hub, bobToken, 'auto');
    clients.push(alice, bob);
    // Each user's own session with the server is open.
    expect(textOf(await alice.callTool({ name: 'httpev__ping_back', arguments: { n: 1 } }))).toBe('pong 1');
    expect(textOf(await bob.callTool({ name: 'httpev__ping_back', arguments: { n: 2 } }))).toBe('pong 2');

    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGKILL');
    await exited;
    const [a, b] = await Promise.all([
      alice.callTool({ name: 'httpev__ping_back', arguments: { n: 3 } }),
      bob.callTool({ name: 'httpev__ping_back', arguments: { n: 4 } }),
    ]);
    for (const r of [a, b]) {
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(REFUSED);
      expect(errorMeta(r)).toMatchObject({ retryable: true });
    }
    const readyz = (await (await fetch(new URL('/readyz', hub.url))).json()) as { sources: Record<string, { state: string; detail?: string }> };
    expect(readyz.sources['httpev']).toMatchObject({ state: 'restarting', detail: expect.stringContaining('connection refused (ECONNREFUSED 127.0.0.1:') });
  });

  it('is named by its cause in doctor', async () => {
    const server = await spawnAskingHttp('--v1-http');
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    const dir = tmpDir();
    try {
      const config = join(dir.path, 'switchboard.config.json');
      writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), mcpServers: { httpev: { url: server.url } } }));
      const run = await runCli(['doctor', '--config', config], dir.path);
      const out = run.stdout + run.stderr;
      expect(out).toMatch(/httpev.*could not connect: connection refused \(ECONNREFUSED 127\.0\.0\.1:\d+\)/);
      expect(out).not.toContain('fetch failed');
    } finally {
      dir.remove();
    }
  });
});

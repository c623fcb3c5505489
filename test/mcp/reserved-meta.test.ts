/**
 * The protocol's own `_meta` keys of a downstream's results (`io.modelcontextprotocol/serverInfo`)
 * describe the downstream hop: through the hub, a prompt, a resource read and a completion name
 * the hub a client connected to, as tool results do, and a 2025-11-25 client gets none of the
 * 2026 era's keys. A real hub on loopback with a downstream built on the SDK's McpServer
 * (test/fixtures/downstream-server.ts, which stamps its serverInfo on every 2026 result) mounted
 * over HTTP, and real clients of both eras.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, startHub, type RunningHub } from '../helpers/hub.js';

const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';

describe("a downstream's protocol _meta through the hub", () => {
  let hub: RunningHub;
  let fixture: ChildProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    fixture = spawn(process.execPath, [FIXTURE, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { port } = await new Promise<{ port: number }>((res, rej) => {
      createInterface({ input: fixture.stdout! }).once('line', (l) => res(JSON.parse(l) as { port: number }));
      fixture.once('exit', (code) => rej(new Error(`the fixture server exited with ${code}`)));
    });
    hub = await startHub({ mcpServers: { c26: { url: `http://127.0.0.1:${port}/mcp` } } });
    // On the 2026 era, where the downstream stamps its serverInfo on every result.
    expect(
      hub.hub.catalog
        .sources()
        .find((s) => s.name === 'c26')
        ?.status().protocolVersion,
    ).toBe('2026-07-28');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    if (fixture && fixture.exitCode === null) fixture.kill('SIGTERM');
  });

  async function client(era: 'legacy' | 'auto'): Promise<Client> {
    const c = new Client({ name: 'reserved-meta', version: '1.0.0' }, { versionNegotiation: { mode: era } });
    await c.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    clients.push(c);
    return c;
  }

  const results = async (c: Client) => ({
    prompt: await c.getPrompt({ name: 'c26__greet', arguments: { who: 'ada' } }),
    read: await c.readResource({ uri: 'fixture://readme' }),
    completion: await c.complete({ ref: { type: 'ref/prompt', name: 'c26__greet' }, argument: { name: 'who', value: 'a' } }),
  });

  it('a 2025-11-25 client gets no 2026 protocol keys naming the downstream', async () => {
    const c = await client('legacy');
    expect(c.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    for (const [what, r] of Object.entries(await results(c))) {
      const keys = Object.keys(r._meta ?? {}).filter((k) => k.startsWith('io.modelcontextprotocol/'));
      expect(keys, what).toEqual([]);
    }
  });

  it('a 2026-07-28 client is told of the hub, not of the downstream', async () => {
    const c = await client('auto');
    expect(c.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const all = await results(c);
    // The content itself is the downstream's.
    expect(all.read.contents[0]).toMatchObject({ uri: 'fixture://readme', text: 'fixture readme' });
    for (const [what, r] of Object.entries(all)) {
      const named = (r._meta?.[SERVER_INFO_KEY] as { name?: string } | undefined)?.name;
      expect(named === undefined || named === 'switchboard', `${what}: ${named}`).toBe(true);
    }
  });
});

/**
 * The webhook URL `connections webhook-secret` and `connections list` print is where a provider
 * will post: like the links of `connect` and `users invite`, it points at the hub serving this data
 * dir when nothing answers at the configured URL and that hub answers elsewhere (servers/hub-at.ts),
 * and the command says so the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { openStore } from '../../servers/store-context.js';
import { CLI, eventually, runCli, tmpDir } from '../helpers/hub.js';

/** A loopback port held where nothing answers (each connection reset), as a config's 8787 with no hub would be. */
async function silentPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => socket.resetAndDestroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((res) => server.close(() => res())) };
}

describe('connections: webhook URLs point at the hub serving the data dir', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let serve: ChildProcess | undefined;
  let silent: Awaited<ReturnType<typeof silentPort>> | undefined;

  beforeEach(() => {
    dir = tmpDir('switchboard-webhook-url-');
    data = join(dir.path, 'data');
  });
  afterEach(async () => {
    if (serve && serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGTERM');
      await once(serve, 'close');
    }
    await silent?.close();
    serve = silent = undefined;
    dir.remove();
  });

  it('webhook-secret and list name the running hub’s port, with the note connect gives', { timeout: 60_000 }, async () => {
    const ctx = await openStore(configSchema.parse({ dataDir: data }));
    let id: string;
    try {
      const repo = ctx.integrations.connections;
      id = (await repo.link({ tenant: 'default', user: 'alice', integration: 'sandbox', tokens: { accessToken: 'a', tokenType: 'Bearer' }, scopes: [] })).id;
    } finally {
      ctx.close();
    }
    serve = spawn(process.execPath, [CLI, 'serve', '--data', data, '--port', '0'], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const served = await eventually(() => /serving MCP at (\S+)/.exec(out)?.[1], 20_000);
    const port = Number(new URL(served).port);
    silent = await silentPort();
    const told = ['--data', data, '--port', String(silent.port)];
    const moved = `Note: nothing answers at http://127.0.0.1:${silent.port}, which the config (or its default) names; the hub serving this data dir answers at http://127.0.0.1:${port}, so the webhook URL points there.`;
    const endpoint = new RegExp(`^http://127\\.0\\.0\\.1:${port}/webhooks/sandbox/wh_[A-Za-z0-9_-]{24}$`);

    const set = await runCli(['connections', 'webhook-secret', id, '--secret', 'whsec_dGVzdHNlY3JldA', ...told], dir.path);
    expect(set.code, set.stderr).toBe(0);
    const url = /point the provider at (\S+)\n$/.exec(set.stdout)?.[1];
    expect(url, set.stdout).toMatch(endpoint);
    expect(set.stderr).toContain(moved);

    const text = await runCli(['connections', 'list', ...told], dir.path);
    expect(text.stdout).toContain(`webhook secret set  webhook URL ${url}\n`);
    expect(text.stderr).toContain(moved);
    const json = await runCli(['connections', 'list', '--json', ...told], dir.path);
    const rows = z.array(z.object({ id: z.string(), webhookUrl: z.string().nullable() })).parse(JSON.parse(json.stdout));
    expect(rows.find((r) => r.id === id)?.webhookUrl).toBe(url);
  });
});

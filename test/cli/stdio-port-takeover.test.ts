import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

describe('a stdio hub that found its HTTP port busy', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeAll(() => {
    dir = tmpDir('switchboard-takeover-');
  });
  afterAll(() => dir.remove());

  it('binds the port once its holder quits, says so once, and its links lose the warning', { timeout: 30_000 }, async () => {
    // Another program holds the port first (as another desktop client's hub would).
    const holder = createServer((_req, res) => res.end('not a hub'));
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio', '--data', join(dir.path, 'data'), '--port', String(port)],
      cwd: '/',
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name: 'takeover-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      await eventually(() => stderr.includes('something other than a Switchboard hub answers') || undefined);
      expect(stderr).toContain('HTTP port busy');
      await new Promise<void>((r) => holder.close(() => r()));

      // The hub takes the port over: /healthz answers as this hub, webhooks and callbacks reach it again.
      const health = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return res?.ok ? ((await res.json()) as { status: string; hub?: { dataDir?: string } }) : undefined;
      }, 15_000);
      expect(health).toEqual({ status: 'ok', hub: { linkKeyId: expect.any(String), dataDir: join(dir.path, 'data') } });
      await eventually(() => stderr.includes('HTTP port free again: stdio hub now listening on HTTP') || undefined);
      expect(stderr.match(/HTTP port free again/g)).toHaveLength(1);
      // The foreign-holder warning was said once, at start, not at every attempt.
      expect(stderr.match(/something other than a Switchboard hub answers/g)).toHaveLength(1);

      const r = await client.callTool({ name: 'sandbox__list_tickets', arguments: {} });
      const text = (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n');
      expect(text).toContain(`http://127.0.0.1:${port}/oauth/sandbox/start?link=`);
      expect(text).not.toContain('Warning');
    } finally {
      await client.close();
      holder.close();
    }
  });
});

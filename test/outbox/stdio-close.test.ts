/**
 * A stdio hub closed the way the MCP SDK's stdio client closes a server — stdin ended, then SIGTERM
 * 2 s later, then SIGKILL — while a write is in flight at the provider: the SIGTERM must not cut
 * the stop short. The provider's answer, arriving after the SIGTERM, is recorded (`done`), where
 * it used to be left `sending` and read at the next start as `sent_unconfirmed`, inviting the user
 * to send an applied write again. The provider holds its answer until the hub has said it got the
 * SIGTERM: no timers decide the order.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLI, eventually, runCli, tmpDir } from '../helpers/hub.js';
import { notesIntegration } from '../fixtures/bucket-api.js';

describe('a stdio hub closed by its client while a write is in flight', () => {
  const dir = tmpDir('switchboard-stdio-close-');
  let held: ServerResponse | undefined;
  let applied = 0;
  const provider = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      applied++;
      held = res;
    });
  });
  let url = '';

  beforeAll(async () => {
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    provider.closeAllConnections();
    await new Promise<void>((r) => provider.close(() => r()));
    dir.remove();
  });

  it('records the answer that arrives after the SIGTERM that follows stdin closing, and exits 0', { timeout: 60_000 }, async () => {
    const config = join(dir.path, 'config.json');
    const data = join(dir.path, 'data');
    writeFileSync(config, JSON.stringify({ integrations: { notes: notesIntegration({ url }) }, outbox: { waitMs: 60_000 } }));
    const hub = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    hub.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    hub.stdout!.resume();
    const send = (m: unknown) => hub.stdin!.write(`${JSON.stringify(m)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes__create', arguments: { text: 'once' } } });
    // The write has left: the provider holds its answer.
    await eventually(() => held, 30_000);
    const exited = once(hub, 'exit');
    hub.stdin!.end();
    await eventually(() => stderr.includes('shutting down') || undefined, 10_000);
    hub.kill('SIGTERM');
    await eventually(() => stderr.includes('already stopping') || undefined, 10_000);
    held!.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"n1"}');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(applied).toBe(1);
    const listed = await runCli(['queue', 'list', '--json', '--data', data], dir.path);
    const jobs = z.array(z.looseObject({ state: z.string() })).parse(JSON.parse(listed.stdout));
    expect(jobs.map((j) => j.state)).toEqual(['done']);
  });
});

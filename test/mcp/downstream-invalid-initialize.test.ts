import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server whose initialize answer fails the schema (no `capabilities`) is shown failing with what
 * is wrong on one line, where /readyz, doctor and the log carried zod's issues as indented JSON.
 */
describe('a downstream whose initialize answer is invalid', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('is said on one line', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'no-capabilities.js');
    writeFileSync(
      script,
      `require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
        const m = JSON.parse(l);
        if (m.id === undefined) return;
        const result = { protocolVersion: '2025-06-18', serverInfo: { name: 'x', version: '1' } };
        const answer = m.method === 'initialize' ? { result } : { error: { code: -32601, message: 'no' } };
        process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...answer }) + '\\n');
      });\n`,
    );
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { odd: { command: process.execPath, args: [script] } } }));
    const transport = new StdioClientTransportV1({
      command: process.execPath,
      args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')],
      cwd: '/',
      stderr: 'pipe',
    });
    let log = '';
    transport.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    client = new ClientV1({ name: 'desktop', version: '1.0.0' });
    await client.connect(transport);
    const failed = () =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['source'] === 'odd' && l['msg'] === 'downstream server failed to start');
    const line = await eventually(async () => failed(), 10_000, 50);
    expect(line['detail']).toBe('could not connect: Invalid result for initialize: capabilities: Invalid input: expected object, received undefined');
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

const KEY = 'sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * A stderr line over 64 KiB is kept as its first bytes and "… (line truncated)". A key of the
 * server's env that straddles that cut was shown in part (its first characters are no match for
 * the redaction of the whole value): the part is cut too.
 */
describe('a downstream stderr line truncated inside a secret', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('shows no part of the secret in the log', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'dumps-env.js');
    // The key starts 1004 bytes in: the kept head (1024 bytes) ends 20 characters into it.
    writeFileSync(script, "process.stderr.write('x'.repeat(1000) + 'key=' + process.env.API_KEY + ' ' + 'y'.repeat(70000) + '\\n');\nprocess.exitCode = 1;\n");
    const config = join(dir.path, 'switchboard.config.json');
    const entry = { command: process.execPath, args: [script], env: { API_KEY: KEY } };
    writeFileSync(config, JSON.stringify({ logLevel: 'debug', mcpServers: { dumps: entry } }));
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
    await eventually(async () => log.includes('downstream server failed to start'), 10_000, 50);
    expect(log).not.toContain(KEY.slice(0, 8));
    expect(log).toContain('key=… (line truncated)');
  });
});

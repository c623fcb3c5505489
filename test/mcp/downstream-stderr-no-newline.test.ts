import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server that writes why it cannot start without a final newline (`process.stderr.write`,
 * Python's `sys.stderr.write`, a shell's `printf`) and exits is named by that text: the end of its
 * stderr ends its last line, which was dropped as unfinished.
 */
describe('a downstream whose last stderr line has no newline', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('is shown failing with that line', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(script, "process.stderr.write('Error: API_KEY is not set');\nprocess.exitCode = 1;\n");
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { keyed: { command: process.execPath, args: [script] } } }));
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
    const about = () =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['source'] === 'keyed');
    await eventually(async () => about().length >= 2, 10_000, 50);
    for (const line of about().slice(0, 2)) {
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 1; stderr: Error: API_KEY is not set' });
    }
  });
});

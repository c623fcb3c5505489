import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server started with wrong arguments often prints its usage on stdout, not stderr, and exits
 * (Python's argparse prints `--help` there; many CLIs their usage). stdout is read as JSON-RPC, and
 * what is not is skipped: the failure said only the exit code. It is kept as stderr is and shown
 * when the process said nothing on stderr.
 */
describe('a downstream that says why it quits on stdout only', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('is shown failing with what it printed there', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(script, "console.log('usage: server --root DIR');\nprocess.exitCode = 2;\n");
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
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 2; stdout: usage: server --root DIR' });
    }
  });
});

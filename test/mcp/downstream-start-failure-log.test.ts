import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

/**
 * A stdio server that cannot start (a missing API key) is named in the hub's log by its exit code
 * and its first meaningful stderr lines, on its first attempt and every retry: not by the SDK's
 * account of the version probe the exit interrupted, nor by a bare "Connection closed".
 */
describe('the log of a downstream that fails to start', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let client: ClientV1 | undefined;
  afterEach(async () => {
    await client?.close();
    dir?.remove();
  });

  it('says its exit code and first stderr lines, on each retry', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(
      script,
      "console.error('');\nconsole.error('npm warn config production Use `--omit=dev` instead.');\nconsole.error('Error: API_KEY is not set');\nprocess.exit(1);\n",
    );
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
    // The first attempt and two restarts (250 ms, then 500 ms later).
    await eventually(async () => about().length >= 3, 10_000, 50);
    for (const line of about().slice(0, 3)) {
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 1; stderr: Error: API_KEY is not set' });
    }
    expect(log).not.toContain('probe');
    expect(log).not.toContain('Connection closed');
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI } from './hub.js';

/** `switchboard stdio` as a desktop client runs it, and the hub's log (its stderr) as it came. */
export interface DesktopHub {
  client: ClientV1;
  /** Everything the hub wrote on stderr so far. */
  log(): string;
  /** The hub's JSON log lines about one downstream server (its `source`), in order. */
  about(server: string): Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * `switchboard stdio --no-http` with `config` written to `<dir>/switchboard.config.json` and its
 * data in `<dir>/data`, started by the 1.x SDK client from `/` as Claude Desktop starts it, and
 * connected (the handshake done).
 */
export async function desktopHub(dir: string, config: Record<string, unknown>): Promise<DesktopHub> {
  const file = join(dir, 'switchboard.config.json');
  writeFileSync(file, JSON.stringify(config));
  const transport = new StdioClientTransportV1({
    command: process.execPath,
    args: [CLI, 'stdio', '--no-http', '--config', file, '--data', join(dir, 'data')],
    cwd: '/',
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const client = new ClientV1({ name: 'desktop', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    log: () => log,
    about: (server) =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['source'] === server),
    close: () => client.close(),
  };
}

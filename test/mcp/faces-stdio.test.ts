import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { CLIENT_KINDS, connectClient, faceBehaviour, type FaceClient } from '../helpers/clients.js';
import { CLI, eventually, FIXTURE, tmpDir } from '../helpers/hub.js';

/** `switchboard stdio` as a host launches it: its own process, the fixture as its one downstream. */
function stdioHub(dir: string): { command: string; args: string[] } {
  const config = join(dir, 'switchboard.config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--stdio'], env: { FIXTURE_TOOLS: '300' } } } }));
  return { command: process.execPath, args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir, 'data')] };
}

describe('stdio face with real clients', () => {
  for (const kind of CLIENT_KINDS) {
    describe(kind, () => {
      let dir: ReturnType<typeof tmpDir>;
      let c: FaceClient;
      beforeAll(async () => {
        dir = tmpDir();
        c = await connectClient(kind, { transport: 'stdio', ...stdioHub(dir.path) });
        // The downstream connects in the background after a cold start; its tools appear once it is ready.
        await eventually(async () => (await c.listPage()).tools.some((t) => t.name === 'fx__echo'), 20_000, 50).catch((err: unknown) => {
          throw new Error(`downstream never became ready: ${String(err)}\n${c.stderrTail()}`);
        });
      });
      afterAll(async () => {
        await c?.close();
        dir?.remove();
      });
      faceBehaviour(() => c);
    });
  }
});

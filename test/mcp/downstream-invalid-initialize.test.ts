import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopHub, type DesktopHub } from '../helpers/desktop-stdio.js';
import { eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server whose initialize answer fails the schema (no `capabilities`) is shown failing with what
 * is wrong on one line, where /readyz, doctor and the log carried zod's issues as indented JSON.
 */
describe('a downstream whose initialize answer is invalid', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let hub: DesktopHub | undefined;
  afterEach(async () => {
    await hub?.close();
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
    const h = await desktopHub(dir.path, { mcpServers: { odd: { command: process.execPath, args: [script] } } });
    hub = h;
    const failed = () => h.about('odd').find((l) => l['msg'] === 'downstream server failed to start');
    const line = await eventually(async () => failed(), 10_000, 50);
    expect(line['detail']).toBe('could not connect: Invalid result for initialize: capabilities: Invalid input: expected object, received undefined');
  });
});

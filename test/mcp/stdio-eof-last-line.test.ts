/**
 * `switchboard stdio` driven by a script that writes its last request without a newline and
 * closes stdin (`printf '%s' "$req" | switchboard stdio`, a write then close): the end of the
 * input ends that line, and the request is answered like those before it, where it was dropped
 * unread and the hub stopped saying nothing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ASKING } from '../helpers/asking.js';
import { CLI, tmpDir } from '../helpers/hub.js';

type Json = Record<string, unknown>;

describe('switchboard stdio whose input ends without a newline', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    dir?.remove();
  });

  it('answers the last request', async () => {
    dir = tmpDir();
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { a: { command: process.execPath, args: [ASKING, '--v1-stdio'] } } }));
    child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')], { stdio: 'pipe' });
    const answers: Json[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => void answers.push(JSON.parse(l) as Json));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const line = (m: Json) => JSON.stringify({ jsonrpc: '2.0', ...m });
    child.stdin.write(
      `${line({ id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'script', version: '1' } } })}\n`,
    );
    child.stdin.write(`${line({ method: 'notifications/initialized' })}\n`);
    child.stdin.end(line({ id: 1, method: 'tools/list' }));
    expect(await exited).toBe(0);
    const listed = answers.find((a) => a['id'] === 1);
    expect(JSON.stringify(listed)).toContain('a__hold');
  });
});

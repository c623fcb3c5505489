/**
 * `switchboard stdio` with a missing or wrong master key stops start-up as `serve` does: the
 * message names `vault_key_missing`, the exit code is 1, and nothing is answered on stdout — not
 * even `initialize` — while the client keeps stdin open, so a desktop client never shows a
 * connected server whose store is closed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASTER_KEY_ENV } from '../../src/vault/master-keys.js';
import { CLI, tmpDir } from '../helpers/hub.js';

const HANDSHAKE = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'key-test', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
]
  .map((m) => `${JSON.stringify(m)}\n`)
  .join('');

interface StdioRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `stdio`, writes the handshake and, unless `end`, leaves stdin open as a client does. */
function stdio(data: string, cwd: string, user: string, env: NodeJS.ProcessEnv, end: boolean): Promise<StdioRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--data', data, '--user', user], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      // A first start ends once its tools/list is answered.
      if (end && stdout.includes('"id":2')) child.stdin.end();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      child.stdin.destroy();
      resolve({ code, stdout, stderr });
    });
    child.stdin.write(HANDSHAKE);
  });
}

describe('switchboard stdio without its master key', () => {
  const dir = tmpDir();
  const data = join(dir.path, 'data');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env[MASTER_KEY_ENV];

  beforeAll(async () => {
    // A first start makes the master key and a data key (the built-in sandbox seals its client secret).
    const first = await stdio(data, dir.path, 'alice', env, true);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('"id":2');
  });
  afterAll(() => dir.remove());

  it('exits 1 before answering initialize when the key is wrong', async () => {
    const run = await stdio(data, dir.path, 'bob', { ...env, [MASTER_KEY_ENV]: randomBytes(32).toString('base64') }, false);
    expect([run.code, run.stdout]).toEqual([1, '']);
    expect(run.stderr).toMatch(/switchboard: error \(vault_key_missing\)/);
  });

  it('serve with the wrong key exits 1 too, its port closed (it answered 503 starting for good)', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--data', data, '--port', '0'], {
      cwd: dir.path,
      env: { ...env, [MASTER_KEY_ENV]: randomBytes(32).toString('base64') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(guard);
    expect([code, child.signalCode]).toEqual([1, null]);
    expect(stderr).toMatch(/switchboard: error \(vault_key_missing\)/);
  });

  it('exits 1 before answering initialize when the key file is gone', async () => {
    rmSync(join(data, 'master.key'));
    const run = await stdio(data, dir.path, 'alice', env, false);
    expect([run.code, run.stdout]).toEqual([1, '']);
    expect(run.stderr).toMatch(/switchboard: error \(vault_key_missing\): no master key: set SWITCHBOARD_MASTER_KEY or restore .*master\.key/);
  });
});

/**
 * A hub configured with Redis whose start-up fails at the vault (a wrong master key) exits 1 as
 * one without Redis does: the Redis client it made on the way kept the process alive, so a
 * desktop client waited on a `stdio` hub that had already printed its error. The real CLI, a real
 * redis-server, stdin kept open as a client keeps it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASTER_KEY_ENV } from '../../src/vault/master-keys.js';
import { CLI, tmpDir } from '../helpers/hub.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

const INIT = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'key-test', version: '1' } },
})}\n`;

/** `stdio` with the handshake written and stdin left open; killed after 20 s if it never ends. */
function stdio(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('"id":1')) child.stdin.end();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      child.stdin.destroy();
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.write(INIT);
  });
}

describe.skipIf(redisSkip !== undefined)('a stdio hub with Redis and the wrong master key', () => {
  let server: TestRedis;
  const dir = tmpDir();
  const data = join(dir.path, 'data');
  const config = join(dir.path, 'switchboard.config.json');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env[MASTER_KEY_ENV];

  beforeAll(async () => {
    server = await startRedis();
    writeFileSync(config, JSON.stringify({ redis: { url: server.url, keyPrefix: testPrefix() } }));
    // A first start makes the master key file and seals the built-in sandbox's client secret with it.
    const first = await stdio(['--config', config, '--data', data], dir.path, env);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('exits 1 before answering initialize, stdin still open', async () => {
    const run = await stdio(['--config', config, '--data', data], dir.path, { ...env, [MASTER_KEY_ENV]: randomBytes(32).toString('base64') });
    expect([run.code, run.signal, run.stdout]).toEqual([1, null, '']);
    expect(run.stderr).toMatch(/switchboard: error \(vault_key_missing\)/);
  });
});

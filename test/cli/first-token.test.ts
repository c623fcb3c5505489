import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, runCli, tmpDir } from '../helpers/hub.js';

interface Served {
  stdout: string;
  stderr: string;
  url: string;
}

/**
 * Runs `serve` until it prints its URL, runs `whileRunning`, then stops it. With `tty`, stdout is
 * a pseudo-terminal made by script(1), as when a person runs the command. The child gets its own
 * process group so that stopping it stops script(1) and the hub under it.
 */
function serveUntilReady(args: string[], cwd: string, tty: boolean, whileRunning: (s: Served) => Promise<void>): Promise<Served> {
  const command = [process.execPath, CLI, 'serve', '--port', '0', ...args];
  const child = tty
    ? spawn('script', ['-qefc', command.map((a) => `'${a}'`).join(' '), '/dev/null'], {
        cwd,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      })
    : spawn(command[0]!, command.slice(1), { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  return new Promise((resolve, reject) => {
    const s: Served = { stdout: '', stderr: '', url: '' };
    let failure: unknown;
    const stop = () => process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => {
      failure = new Error(`serve did not print its URL:\n${s.stdout}\n${s.stderr}`);
      stop();
    }, 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      s.stdout += c.toString();
      const m = /serving MCP at (\S+)/.exec(s.stdout);
      // The whole block is written at once after the URL line.
      if (m && s.url === '' && /Make more with/.test(s.stdout)) {
        s.url = m[1]!;
        clearTimeout(timer);
        whileRunning(s)
          .catch((err: unknown) => (failure = err))
          .finally(stop);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (s.stderr += c.toString()));
    child.once('error', reject);
    child.once('close', () => (failure === undefined ? resolve(s) : reject(failure)));
  });
}

async function initialize(url: string, token: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'first-token', version: '1' } },
    }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('the first admin token of serve', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => dir.remove());

  it('goes to a 0600 file in the data dir when stdout is not a terminal; stdout and the log carry only its path', { timeout: 60_000 }, async () => {
    const data = join(dir.path, 'data');
    const file = join(data, 'admin-token');
    let token = '';
    const served = await serveUntilReady(['--data', data], dir.path, false, async (s) => {
      token = readFileSync(file, 'utf8').trim();
      expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
      expect(await initialize(s.url, token)).toBe(200);
    });
    expect(served.url, served.stderr).toMatch(/^http/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(served.stdout).toContain(`\n    ${file}\n`);
    expect(served.stdout + served.stderr).not.toMatch(/sbt_/);
    expect(served.stdout + served.stderr).not.toContain(token.slice(4, 20));
    // The file's token is an admin token with mcp, as the printed one was.
    const list = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(list.stdout).toMatch(/ default\/admin {2}scopes=mcp,admin {2}.* {2}active {2}"created on first start"\n$/);
  });

  it('is printed, and no file written, when stdout is a terminal', { timeout: 60_000 }, async () => {
    const data = join(dir.path, 'data');
    const served = await serveUntilReady(['--data', data], dir.path, true, async (s) => {
      const token = /Authorization: Bearer (sbt_[A-Za-z0-9_-]{43})/.exec(s.stdout)?.[1] ?? '';
      expect(await initialize(s.url, token)).toBe(200);
    });
    expect(served.stdout).toContain('It is shown only this once');
    expect(existsSync(join(data, 'admin-token'))).toBe(false);
  });
});

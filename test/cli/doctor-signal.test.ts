/**
 * Ctrl-C in the middle of `doctor` stops the downstream servers it started: a stdio server runs in
 * a process group of its own, which a terminal's SIGINT does not reach, and doctor used to exit
 * at once and leave it running.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('doctor and SIGINT', { timeout: 60_000 }, () => {
  let dir: ReturnType<typeof tmpDir>;
  let serverPid: number | undefined;
  beforeEach(() => {
    dir = tmpDir('switchboard-doctor-signal-');
  });
  afterEach(() => {
    if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    serverPid = undefined;
    dir.remove();
  });

  it('stops a server that is still starting, then exits 130', async () => {
    const pidFile = join(dir.path, 'server.pid');
    // A stdio server that never answers the handshake: doctor waits its startupTimeoutMs for it.
    const silent = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1e9);`;
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(
      config,
      JSON.stringify({ server: { port: 0 }, mcpServers: { silent: { command: process.execPath, args: ['-e', silent], startupTimeoutMs: 50_000 } } }),
    );
    const child = spawn(process.execPath, [CLI, 'doctor', '--config', config, '--data', join(dir.path, 'data')], {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit');
    serverPid = await eventually(
      () => (existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '' ? Number(readFileSync(pidFile, 'utf8')) : undefined),
      30_000,
    );
    expect(alive(serverPid)).toBe(true);

    child.kill('SIGINT');
    const [code] = await exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('doctor: SIGINT: stopping the servers it started');
    await eventually(() => !alive(serverPid!), 5_000);
  });
});

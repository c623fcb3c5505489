import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

/** Whether a process is still there (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('serve stopped while it starts', () => {
  const dirs: Array<{ remove: () => void }> = [];
  const leftovers: number[] = [];
  afterEach(() => {
    for (const pid of leftovers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const d of dirs.splice(0)) d.remove();
  });

  it('a SIGTERM that lands before serve has printed its URL still stops the downstream servers it spawned, and exits 0', async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const pidFile = join(dir.path, 'child.pid');
    // A server that never answers initialize: it is spawned at once and stays "starting". The shell
    // writes its pid first (exec keeps it), so the test signals the hub the moment the child exists.
    const config = join(dir.path, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: { hang: { command: 'sh', args: ['-c', `echo $$ > '${pidFile}'; exec sleep 600`], startupTimeoutMs: 30_000 } },
      }),
    );
    const hub = spawn(process.execPath, [CLI, 'serve', '--config', config, '--data', join(dir.path, 'data'), '--port', '0'], {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    hub.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    hub.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => hub.once('exit', (code) => r(code)));
    const pid = await eventually(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || undefined : undefined), 30_000, 1);
    leftovers.push(pid);
    hub.kill('SIGTERM');
    const code = await exited;
    // The hub had not yet printed its URL: this is the start-up window the test is about.
    expect(out).not.toMatch(/serving MCP at/);
    expect(code, out).toBe(0);
    await eventually(() => (alive(pid) ? undefined : true), 5_000);
    expect(alive(pid)).toBe(false);
  }, 40_000);
});

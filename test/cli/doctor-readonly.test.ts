/**
 * `doctor` diagnoses and makes nothing: not the per-user data dir it would use, not a store. It
 * says a file given as the data dir is not one, gives each downstream server its own
 * `startupTimeoutMs` (the time the hub waits before a first tools/list goes without it), and
 * `--help` prints its usage instead of running the checks.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLI, tmpDir } from '../helpers/hub.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

/** The CLI with HOME (and so the per-user data dir) inside the test's folder. */
function doctor(args: string[], cwd: string, home: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { XDG_DATA_HOME: _xdg, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { cwd, env: { ...env, HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('doctor makes nothing', () => {
  const dir = tmpDir();
  const home = join(dir.path, 'home');
  const cwd = join(dir.path, 'work');
  mkdirSync(home);
  mkdirSync(cwd);
  afterAll(() => dir.remove());

  it('--help prints its usage and runs no check', async () => {
    const r = await doctor(['--help'], cwd, home);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: switchboard doctor \[--json\]/);
    expect(r.stderr).toBe('');
  });

  it('leaves the per-user data dir unmade, saying so', async () => {
    const r = await doctor(['--json'], cwd, home);
    const out = report.parse(JSON.parse(r.stdout));
    expect(out.checks.map((c) => c.line)).toContainEqual(expect.stringMatching(/^data dir: .*\.local\/share\/switchboard .*not made yet/));
    expect(existsSync(join(home, '.local'))).toBe(false);
  });

  it('fails a data dir that is a file', async () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'x');
    const r = await doctor(['--json', '--data', file], cwd, home);
    expect(r.code).toBe(1);
    expect(report.parse(JSON.parse(r.stdout)).checks).toContainEqual({ ok: false, line: `data dir: ${file}: it is a file, not a folder` });
  });

  it('gives a server that never answers its startupTimeoutMs, and says what that means', { timeout: 20_000 }, async () => {
    const config = join(dir.path, 'mute.json');
    const mute = { command: process.execPath, args: ['-e', 'process.stdin.resume()'], startupTimeoutMs: 1500 };
    writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), mcpServers: { mute } }));
    const r = await doctor(['--json', '--config', config], cwd, home);
    expect(r.code).toBe(1);
    const line = report.parse(JSON.parse(r.stdout)).checks.find((c) => c.line.startsWith('mcpServers.mute:'));
    expect(line).toMatchObject({
      ok: false,
      line: expect.stringContaining("(not ready within startupTimeoutMs, 1500 ms: a client's first tools/list would go without it)"),
    });
  });
});

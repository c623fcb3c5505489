/**
 * README (CLI): "an unknown flag … or one argument more than the command takes … exits 2 with a
 * message naming it and the command's usage." `--version` takes nothing but the common flags, and
 * a `--port` that is no port is a mistake in the call, not in the config.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT, runCli, tmpDir } from '../helpers/hub.js';
import { readFileSync } from 'node:fs';
import { runCliEnv } from './run-env.js';

let dir: ReturnType<typeof tmpDir>;
beforeAll(() => {
  dir = tmpDir('switchboard-exit-codes-');
});
afterAll(() => dir.remove());

describe('--version', () => {
  it.each([
    [['--version', 'extra'], 'switchboard: unexpected argument "extra"'],
    [['--version', '--bogus'], 'switchboard: unknown flag --bogus'],
    [['-V', 'extra'], 'switchboard: unexpected argument "extra"'],
    [['--version', '--port', 'abc'], 'switchboard: --port abc: expected a port number 0–65535'],
  ])('%j exits 2 naming the mistake, then the usage; no version is printed', async (args, said) => {
    const r = await runCli(args, dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr.startsWith(`${said}\n`), r.stderr).toBe(true);
    expect(r.stderr).toContain('usage: switchboard <command> [flags]');
  });

  it('with the common flags, before or after it, it still prints the version (control)', async () => {
    const { version } = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')));
    const data = join(dir.path, 'never');
    for (const args of [
      ['--data', data, '--version'],
      ['--version', '--config', join(dir.path, 'none.json')],
    ]) {
      expect(await runCli(args, dir.path)).toEqual({ code: 0, stdout: `switchboard ${version}\n`, stderr: '' });
    }
    expect(existsSync(data)).toBe(false);
  });
});

describe('--port that is no port', () => {
  it.each([
    ['serve', 'abc'],
    ['serve', '99999'],
    ['stdio', 'abc'],
    ['tokens', '1e4'],
  ])('%s --port %s exits 2 naming it, with the command’s usage, and makes no data dir', async (command, port) => {
    const data = join(dir.path, `data-${command}-${port}`);
    const args = command === 'tokens' ? ['tokens', 'list'] : [command];
    const r = await runCli([...args, '--port', port, '--data', data], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(new RegExp(`^switchboard ${command}: --port ${port}: expected a port number 0–65535\\nusage: switchboard ${command} `));
    expect(existsSync(data)).toBe(false);
  });

  it('nor the per-user data dir (no --data, no config)', async () => {
    const cwd = join(dir.path, 'cwd');
    const xdg = join(dir.path, 'xdg');
    mkdirSync(cwd);
    const r = await runCliEnv(['serve', '--port', 'abc'], cwd, { XDG_DATA_HOME: xdg });
    expect(r.code, r.stderr).toBe(2);
    expect(existsSync(xdg)).toBe(false);
  });
});

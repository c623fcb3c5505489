import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveDataDir, userDataDir } from '../../src/config/data-dir.js';
import { runCliEnv as runCli } from '../cli/run-env.js';
import { tmpDir } from '../helpers/hub.js';

describe('the per-user data dir of each OS', () => {
  it('follows XDG_DATA_HOME on Linux when it is absolute, else ~/.local/share', () => {
    expect(userDataDir('linux', { XDG_DATA_HOME: '/x/share' }, '/home/ann')).toBe('/x/share/switchboard');
    // The XDG Base Directory spec: a relative path in these variables is invalid and ignored.
    expect(userDataDir('linux', { XDG_DATA_HOME: 'rel/share' }, '/home/ann')).toBe('/home/ann/.local/share/switchboard');
    expect(userDataDir('linux', {}, '/home/ann')).toBe('/home/ann/.local/share/switchboard');
    expect(userDataDir('freebsd', {}, '/home/ann')).toBe('/home/ann/.local/share/switchboard');
  });

  it('uses Application Support on macOS and %APPDATA% on Windows', () => {
    expect(userDataDir('darwin', { XDG_DATA_HOME: '/ignored' }, '/Users/ann')).toBe('/Users/ann/Library/Application Support/Switchboard');
    expect(userDataDir('win32', { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming' }, 'C:\\Users\\ann')).toBe('C:\\Users\\ann\\AppData\\Roaming\\Switchboard');
    expect(userDataDir('win32', {}, 'C:\\Users\\ann')).toBe('C:\\Users\\ann\\AppData\\Roaming\\Switchboard');
  });
});

describe('which data dir a command uses', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('switchboard-datadir-');
  });
  afterEach(() => dir.remove());
  const base = () => ({ cwd: join(dir.path, 'cwd'), env: { XDG_DATA_HOME: join(dir.path, 'xdg') }, platform: 'linux' as const, home: join(dir.path, 'home') });

  it('--data wins, resolved against the working directory', () => {
    const r = resolveDataDir({ ...base(), flag: 'mine', configured: '/elsewhere', configFile: '/etc/sb.json' });
    expect(r).toEqual({ dir: join(dir.path, 'cwd', 'mine'), source: 'flag', line: `data dir: ${join(dir.path, 'cwd', 'mine')} (from --data)` });
  });

  it("then dataDir from the config, resolved against the config file's folder", () => {
    const file = join(dir.path, 'conf', 'sb.json');
    const r = resolveDataDir({ ...base(), configured: './state', configFile: file });
    expect(r).toEqual({ dir: join(dir.path, 'conf', 'state'), source: 'config', line: `data dir: ${join(dir.path, 'conf', 'state')} (dataDir in ${file})` });
    expect(resolveDataDir({ ...base(), configured: '/abs/state', configFile: file }).dir).toBe('/abs/state');
  });

  it('~ means the home folder in dataDir and in --data, as a shell would have expanded it; ~name stays a name', () => {
    const file = join(dir.path, 'conf', 'sb.json');
    const home = join(dir.path, 'home');
    expect(resolveDataDir({ ...base(), configured: '~/state', configFile: file }).dir).toBe(join(home, 'state'));
    expect(resolveDataDir({ ...base(), configured: '~', configFile: file }).dir).toBe(home);
    expect(resolveDataDir({ ...base(), flag: '~/mine' }).dir).toBe(join(home, 'mine'));
    expect(resolveDataDir({ ...base(), configured: '~ann/state', configFile: file }).dir).toBe(join(dir.path, 'conf', '~ann', 'state'));
  });

  it('then ./data when it already holds a store, with a notice; a bare ./data folder does not count', () => {
    const legacy = join(dir.path, 'cwd', 'data');
    mkdirSync(legacy, { recursive: true });
    expect(resolveDataDir(base()).source).toBe('user');
    writeFileSync(join(legacy, 'switchboard.db'), '');
    const r = resolveDataDir(base());
    expect(r).toEqual({
      dir: legacy,
      source: 'working-dir',
      line: `data dir: ${legacy} (an existing store in ./data; commands started elsewhere use ${join(dir.path, 'xdg', 'switchboard')} unless given --data or dataDir, so set one of them to keep this store)`,
    });
  });

  it('else the per-user data dir', () => {
    const user = join(dir.path, 'xdg', 'switchboard');
    expect(resolveDataDir(base())).toEqual({
      dir: user,
      source: 'user',
      line: `data dir: ${user} (the per-user default; --data or dataDir in the config changes it)`,
    });
  });

  it('a command started in / (as Claude Desktop starts servers) and one started in the config folder meet in one store', async () => {
    const conf = join(dir.path, 'conf');
    mkdirSync(conf);
    const file = join(conf, 'switchboard.config.json');
    writeFileSync(file, '{ "dataDir": "./data" } // relative to this file');
    const env = { XDG_DATA_HOME: join(dir.path, 'xdg') };
    const created = await runCli(['tokens', 'create', '--user', 'ann', '--config', file], '/', env);
    expect(created.code).toBe(0);
    expect(created.stderr.split('\n')[0]).toBe(`data dir: ${join(conf, 'data')} (dataDir in ${file})`);
    const listed = await runCli(['tokens', 'list', '--json', '--config', 'switchboard.config.json'], conf, env);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { user: string }[]).map((t) => t.user)).toEqual(['ann']);
  });

  it('without config or ./data a command uses the per-user dir and doctor shows it', async () => {
    const env = { XDG_DATA_HOME: join(dir.path, 'xdg') };
    const user = join(dir.path, 'xdg', 'switchboard');
    // doctor names it and makes nothing; the first command that keeps something makes it, private.
    const before = await runCli(['doctor', '--json'], dir.path, env);
    expect(before.stderr).toContain(`ok   data dir: ${user} (the per-user default; --data or dataDir in the config changes it), not made yet`);
    expect(existsSync(user)).toBe(false);
    expect((await runCli(['tokens', 'create', '--user', 'alice'], dir.path, env)).code).toBe(0);
    expect(statSync(user).mode & 0o777).toBe(0o700);
    const after = await runCli(['doctor', '--json'], dir.path, env);
    expect(after.stderr).toContain(`ok   data dir: ${user} (the per-user default; --data or dataDir in the config changes it), writable\n`);
  });
});

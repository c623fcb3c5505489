import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve, win32 } from 'node:path';

/** Where the data dir in use came from, in the order the rule tries them. */
export type DataDirSource = 'flag' | 'config' | 'working-dir' | 'user';

export interface ResolvedDataDir {
  dir: string;
  source: DataDirSource;
  /** One line for stderr saying which dir is in use and why. */
  line: string;
}

export interface DataDirInput {
  /** `--data`, resolved against the working directory like any command-line path. */
  flag?: string | undefined;
  /** `dataDir` as the config file wrote it (undefined when the file did not set it). */
  configured?: string | undefined;
  /** The config file read; a relative `dataDir` is resolved against its folder. */
  configFile?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  home?: string;
}

/** The store file whose presence marks a folder as a Switchboard data dir. */
export const STORE_FILE = 'switchboard.db';

/**
 * One rule for every command, so a `stdio` started by a desktop client (whose working directory
 * is `/`) and a `serve` started in a terminal meet in one store: `--data`, else the config's
 * `dataDir` resolved against the config file's folder, else `./data` when it already holds a store
 * (installs from before this rule keep their master key), else the per-user data dir of the OS.
 */
export function resolveDataDir(input: DataDirInput): ResolvedDataDir {
  const cwd = input.cwd ?? process.cwd();
  const home = input.home ?? homedir();
  if (input.flag !== undefined) {
    const dir = resolve(cwd, expandHome(input.flag, home));
    return { dir, source: 'flag', line: `data dir: ${dir} (from --data)` };
  }
  if (input.configured !== undefined && input.configFile !== undefined) {
    const dir = resolve(dirname(input.configFile), expandHome(input.configured, home));
    return { dir, source: 'config', line: `data dir: ${dir} (dataDir in ${input.configFile})` };
  }
  const user = userDataDir(input.platform ?? process.platform, input.env ?? process.env, home);
  const legacy = resolve(cwd, 'data');
  if (existsSync(join(legacy, STORE_FILE))) {
    return {
      dir: legacy,
      source: 'working-dir',
      line: `data dir: ${legacy} (an existing store in ./data; commands started elsewhere use ${user} unless given --data or dataDir, so set one of them to keep this store)`,
    };
  }
  return { dir: user, source: 'user', line: `data dir: ${user} (the per-user default; --data or dataDir in the config changes it)` };
}

/**
 * `~` and `~/…` (or `~\…`) as the user's home folder, the way a shell would have expanded them: a
 * config file is read by no shell, and `--data=~/x` is one word the shell leaves alone. Without
 * this the hub made a folder named `~` beside the config. `~other` stays a plain name.
 */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(home, path.slice(2));
  return path;
}

/**
 * The per-user data dir each OS documents: XDG Base Directory on Linux and other Unixes
 * (`$XDG_DATA_HOME`, which the spec says to ignore unless absolute), Application Support on macOS,
 * the roaming AppData folder on Windows.
 */
export function userDataDir(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: string): string {
  if (platform === 'win32') {
    const appData = env['APPDATA'];
    return win32.join(appData && win32.isAbsolute(appData) ? appData : win32.join(home, 'AppData', 'Roaming'), 'Switchboard');
  }
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Switchboard');
  const xdg = env['XDG_DATA_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), 'switchboard');
}

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { resolveDataDir } from '../../src/config/data-dir.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../src/config/load.js';
import { describeError, HubError } from '../../src/errors.js';
import { makeDir } from '../../src/make-dir.js';
import { parse, progress, str, UsageError } from '../common.js';

const USAGE = `usage: switchboard init [--config FILE]

Writes a commented config (default ./${DEFAULT_CONFIG_FILE}; an existing file is checked, never overwritten)
and prints the entry to paste into Claude Desktop's claude_desktop_config.json for this machine.`;

/** The package root: this file runs as dist/servers/commands/init.js. */
const ROOT = resolve(import.meta.dirname, '../../..');
export const EXAMPLE_CONFIG = resolve(ROOT, 'switchboard.example.jsonc');
export const CLI_ENTRY = resolve(ROOT, 'dist/servers/cli.js');

/**
 * The client entry with absolute paths only: Claude Desktop starts servers in `/` with a minimal
 * PATH, so `npx switchboard` (not on npm) and a bare `node` from a version manager both fail.
 */
export function desktopEntry(configFile: string): { mcpServers: { switchboard: { command: string; args: string[] } } } {
  return { mcpServers: { switchboard: { command: process.execPath, args: [CLI_ENTRY, 'stdio', '--config', configFile] } } };
}

/** Where each common flag's setting lives in the config file. */
const IN_FILE = { data: 'dataDir', port: 'server.port', host: 'server.host', user: "the client entry's `--user` (stdio)" } as const;

export async function initCommand(argv: string[]): Promise<void> {
  const { flags } = parse(argv, {}, { command: 'init', usage: USAGE, takes: 0 });
  if (flags['help']) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The common flags init has no use for would be lost silently: the entry it prints runs with the file alone.
  const ignored = (['data', 'port', 'host', 'user'] as const).find((f) => flags[f] !== undefined);
  if (ignored !== undefined)
    throw new UsageError('init', `--${ignored} is not a flag of "init": set ${IN_FILE[ignored]} in the file it writes, which the printed entry names`, USAGE);
  const target = resolve(str(flags['config']) ?? DEFAULT_CONFIG_FILE);
  if (existsSync(target)) {
    // Not overwritten, but checked, and the entry still printed: running init again is how to
    // see the entry for an existing config. Checked as every other command but stdio checks it:
    // a key written twice is warned of here too, or "it loads" would hide the block that is lost.
    const loaded = loadConfig({ file: target, duplicates: true });
    progress(`${target} exists and was left as it is (it loads).`);
    const configured = loaded.dataDirSet ? loaded.config.dataDir : undefined;
    const here = resolveDataDir({ configured, configFile: target });
    const fromRoot = resolveDataDir({ configured, configFile: target, cwd: '/' });
    if (here.dir !== fromRoot.dir)
      progress(
        `Note: here the hub uses ${here.dir}, but the entry below (Claude Desktop starts it in /) would use ${fromRoot.dir}: set "dataDir": "${here.dir}" in ${target} so both use one store.`,
      );
  } else {
    write(target, withExistingStore(readFileSync(EXAMPLE_CONFIG, 'utf8'), target));
    progress(`Wrote ${target}; edit it, then start \`switchboard serve\` or a client with the entry below.`);
  }
  progress('Claude Desktop: merge this into claude_desktop_config.json (Settings → Developer → Edit Config):');
  process.stdout.write(`${JSON.stringify(desktopEntry(target), null, 2)}\n`);
}

/**
 * A store already in `./data` (an install from before the data-dir rule) is kept only for commands
 * started in this folder; Claude Desktop starts the printed entry in `/`. The written config names
 * it, so both meet in that store rather than the desktop client making a second one with its own
 * master key.
 */
function withExistingStore(text: string, target: string): string {
  const here = resolveDataDir({});
  if (here.source !== 'working-dir') return text;
  const rel = relative(dirname(target), here.dir);
  const dataDir = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? here.dir : `./${rel}`;
  progress(`Found a store in ${here.dir}: the config names it as dataDir, so every command (and Claude Desktop) uses it.`);
  const line = `  "dataDir": ${JSON.stringify(dataDir)},`;
  const commented = /^ {2}\/\/ "dataDir": .*$/m;
  return commented.test(text) ? text.replace(commented, line) : text.replace('{\n', `{\n${line}\n`);
}

/** Writes a new file, making its folder (a fresh machine has no ~/.config/switchboard yet). */
function write(target: string, text: string): void {
  try {
    // Not Node's recursive mkdir, which retries for ever under /proc and some FUSE mounts (src/make-dir.ts).
    makeDir(dirname(target));
    writeFileSync(target, text, { flag: 'wx' });
  } catch (err) {
    throw new HubError('config_invalid', `cannot write the config file ${target}: ${describeError(err)}`, { cause: err });
  }
}

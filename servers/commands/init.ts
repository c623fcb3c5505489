import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { resolveDataDir } from '../../src/config/data-dir.js';
import { isIdentityPlaceholder } from '../../src/config/identity-placeholders.js';
import { DEFAULT_CONFIG_FILE, loadConfig, parseJsoncText } from '../../src/config/load.js';
import { isRecord } from '../../src/is-record.js';
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
export function desktopEntry(
  configFile: string,
  variables: readonly string[] = [],
): { mcpServers: { switchboard: { command: string; args: string[]; env?: Record<string, string> } } } {
  const env = variables.length === 0 ? {} : { env: Object.fromEntries(variables.map((v) => [v, ''])) };
  return { mcpServers: { switchboard: { command: process.execPath, args: [CLI_ENTRY, 'stdio', '--config', configFile], ...env } } };
}

/**
 * The variables a config reads with no default (`${NAME}`, not `$${…}` nor the per-identity
 * placeholders). A desktop client starts the hub with a few variables of its own (PATH, HOME…),
 * not the shell's, so each must be given in the entry's `env`, or the hub stops: "not set".
 */
export function variablesRead(text: string, file: string): string[] {
  const names = new Set<string>();
  // Strings only, as interpolation reads them: a comment's `${ENV}` (the example's) is no variable.
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1] as string);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) Object.values(v).forEach(walk);
  };
  walk(parseJsoncText(text, file));
  return [...names].filter((n) => !isIdentityPlaceholder(n));
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
  let variables: string[] = [];
  if (existsSync(target)) {
    // Not overwritten, but checked, and the entry still printed: running init again is how to
    // see the entry for an existing config. Checked as every other command but stdio checks it:
    // a key written twice is warned of here too, or "it loads" would hide the block that is lost.
    variables = variablesRead(readText(target), target);
    const loaded = loadsWith(target, variables);
    progress(
      `${target} exists and was left as it is (it loads${variables.length > 0 ? ` once ${variables.join(', ')} ${variables.length === 1 ? 'is' : 'are'} set` : ''}).`,
    );
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
  if (variables.length > 0) progress(`Claude Desktop passes none of your shell's variables to the hub: fill in ${variables.join(', ')} in the entry's "env".`);
  process.stdout.write(`${JSON.stringify(desktopEntry(target, variables), null, 2)}\n`);
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

/** The file's text, or nothing to read variables from (a folder, unreadable): loading it says why. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch {
    return '{}';
  }
}

/**
 * The existing config, loaded as the entry will load it: with the variables it reads set (the
 * entry's `env` gives them), so one unset in this shell is no reason to withhold the entry.
 */
function loadsWith(target: string, variables: readonly string[]): ReturnType<typeof loadConfig> {
  const env = { ...process.env };
  for (const v of variables) if (!env[v]) env[v] = 'set in the entry';
  return loadConfig({ file: target, duplicates: true, env });
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

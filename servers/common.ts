import { mkdirSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveDataDir, type ResolvedDataDir } from '../src/config/data-dir.js';
import { loadConfig, type LoadedConfig } from '../src/config/load.js';
import { HubError, describeError } from '../src/errors.js';

/** Flags every command accepts (the contract's common flags). */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  user: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export type Flags = Record<string, string | boolean | undefined>;

export function parse(argv: string[], extra: ParseArgsConfig['options'] = {}): { flags: Flags; positionals: string[] } {
  const options = { ...COMMON_OPTIONS, ...extra };
  const { values, positionals } = parseArgs({ args: bindValues(argv, options), options, allowPositionals: true, strict: true });
  return { flags: values as Flags, positionals };
}

/**
 * `--grant -Abc…` as `--grant=-Abc…`: ids the hub prints (grant ids, made by the OAuth library) may
 * begin with '-', which parseArgs would otherwise refuse as an ambiguous option value.
 */
function bindValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return [...out, ...argv.slice(i)];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next?.startsWith('-') && !isOption(next, options)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function isOption(arg: string, options: NonNullable<ParseArgsConfig['options']>): boolean {
  if (arg === '--') return true;
  if (arg.startsWith('--')) return (arg.slice(2).split('=')[0] as string) in options;
  return Object.values(options).some((o) => o.short !== undefined && arg === `-${o.short}`);
}

export interface CommandConfig extends LoadedConfig {
  /** The data dir in use and why; `config.dataDir` holds the same absolute path. */
  data: ResolvedDataDir;
}

/**
 * Loads the config and applies --data/--port/--host over it. The data dir in use is printed on
 * stderr (one line) unless `quiet`: a hub started by a desktop client has no other way to tell
 * its user which store, and so which master key and tokens, it uses.
 */
export function configFromFlags(flags: Flags, opts: { quiet?: boolean } = {}): CommandConfig {
  const loaded = loadConfig({ file: str(flags['config']) });
  const c = loaded.config;
  const data = resolveDataDir({ flag: str(flags['data']), configured: loaded.dataDirSet ? c.dataDir : undefined, configFile: loaded.file });
  c.dataDir = data.dir;
  // A folder the hub chose itself is private to the user, as the XDG spec asks of its base dirs.
  if (data.source === 'user') mkdirSync(data.dir, { recursive: true, mode: 0o700 });
  if (!opts.quiet) progress(data.line);
  const port = str(flags['port']);
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new HubError('config_invalid', `--port ${port}: expected a port number 0–65535`);
    c.server.port = n;
  }
  const host = str(flags['host']);
  if (host !== undefined) c.server.host = host;
  return { ...loaded, data };
}

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Prints a failure the user can act on and sets a non-zero exit code. */
export function fail(err: unknown): void {
  const prefix = err instanceof HubError ? `error (${err.code})` : 'error';
  process.stderr.write(`switchboard: ${prefix}: ${describeError(err)}\n`);
  process.exitCode = err instanceof HubError && err.code === 'invalid_params' ? 2 : 1;
}

/** Progress lines go to stderr so a command's stdout stays parseable. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

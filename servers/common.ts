import { Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveDataDir, type ResolvedDataDir } from '../src/config/data-dir.js';
import { loadConfig, type LoadedConfig } from '../src/config/load.js';
import { HubError, describeError } from '../src/errors.js';
import { makeDir } from '../src/make-dir.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { printable } from '../src/printable.js';

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
type Options = NonNullable<ParseArgsConfig['options']>;

/** What a command takes, so a mistake in its arguments fails before it does anything. */
export interface CommandSpec {
  /** The command as the user typed it (`tokens`), named by its usage errors. */
  command: string;
  usage?: string;
  /**
   * How many positionals the command takes, or for a command with subcommands how many each one
   * takes after its name (`{ list: 0, revoke: 1 }`): one more is an error, never silently dropped.
   */
  takes: number | Record<string, number>;
  /**
   * The command's own flags (beyond the common ones) each subcommand reads: any other of them given
   * to that subcommand is a UsageError, never accepted and ignored (`tokens list --json` reads
   * `--json`, `tokens create --json` would print a bare token to a script expecting JSON). The
   * common `--user` is refused too unless listed: ignored, it would widen what the command acts on.
   */
  flags?: Record<string, readonly string[]>;
  /** Why a subcommand refuses `--user`, where the general reason does not fit it (`users invite` names its user as its argument). */
  userRefused?: Record<string, string>;
}

/** Why a subcommand that takes no --user refuses it. */
const USER_REFUSED = "it acts on every user's records alike (an id names one, whoever's it is), so --user would narrow nothing";

/** A mistake in how a command was called: printed with the command's usage, exit code 2. */
export class UsageError extends HubError {
  constructor(
    readonly command: string,
    message: string,
    readonly usage: string | undefined,
  ) {
    super('invalid_params', message);
    this.name = 'UsageError';
  }
}

/**
 * Parses a command's flags and positionals. With a `spec`, the positionals are checked too: a
 * missing or unknown subcommand, or one argument more than the command takes, is a UsageError.
 */
export function parse(argv: string[], extra: ParseArgsConfig['options'] = {}, spec?: CommandSpec): { flags: Flags; positionals: string[] } {
  const options: Options = { ...COMMON_OPTIONS, ...extra };
  const args = bindValues(argv, options);
  const usageError = (message: string) => new UsageError(spec?.command ?? '', message, spec?.usage);
  const mistake = flagMistake(args, options);
  if (mistake !== undefined) throw usageError(mistake);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // flagMistake finds what parseArgs refuses; this is for a case it does not foresee.
    throw usageError(describeError(err));
  }
  const flags = parsed.values as Flags;
  const { positionals } = parsed;
  // `--data ""` would be the working directory, `--port ""` a port the OS picks: neither is what was meant.
  for (const [name, value] of Object.entries(flags)) if (value === '') throw usageError(`--${name} needs a value, and "" is none`);
  // A port that is no port is a mistake in the call, like an unknown flag (README, CLI): exit 2 with the usage.
  const port = str(flags['port']);
  if (port !== undefined && portNumber(port) === undefined) throw usageError(portMistake(port));
  if (spec !== undefined && flags['help'] !== true) {
    const [sub, ...rest] = positionals;
    const takes = typeof spec.takes === 'number' ? spec.takes : sub === undefined ? undefined : spec.takes[sub];
    const given = typeof spec.takes === 'number' ? positionals : rest;
    if (typeof spec.takes !== 'number' && sub === undefined) throw usageError(`missing subcommand (${Object.keys(spec.takes).join(', ')})`);
    if (takes === undefined) throw usageError(`unknown subcommand "${sub}"`);
    if (given.length > takes) throw usageError(`unexpected argument "${given[takes]}"`);
    const own = sub === undefined ? undefined : spec.flags?.[sub];
    if (own !== undefined)
      for (const name of Object.keys(flags)) {
        if (own.includes(name)) continue;
        // --user is common, but a subcommand that does not list it would ignore it, and with two users
        // side by side `tokens revoke <alice's id> --user bob` revoked alice's token and
        // `queue list --user bob` listed everyone's jobs: refused, like a flag of another subcommand.
        if (name === 'user') throw usageError(`--user is not a flag of "${spec.command} ${sub}": ${spec.userRefused?.[sub!] ?? USER_REFUSED}`);
        if (!(name in COMMON_OPTIONS)) throw usageError(`--${name} is not a flag of "${spec.command} ${sub}"`);
      }
  }
  return { flags, positionals };
}

/**
 * The first flag parseArgs would refuse, said plainly: its own messages name the flag in a
 * sentence meant for a program's author (with an unbalanced quote, and "ambiguous" for a missing value).
 */
function flagMistake(args: string[], options: Options): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return undefined;
    if (arg === '-' || !arg.startsWith('-')) continue;
    if (!arg.startsWith('--')) {
      if (isOption(arg, options)) continue;
      // Longer than a flag letter: more likely an id the hub printed (grant ids may begin with '-').
      return `unknown flag ${arg}${arg.length > 2 ? ' (an argument that begins with "-" goes after --)' : ''}`;
    }
    const [name, inline] = splitOnce(arg.slice(2), '=');
    const option = options[name];
    if (option === undefined) return `unknown flag --${name}`;
    if (option.type === 'boolean' && inline !== undefined) return `--${name} takes no value`;
    if (option.type === 'string' && inline === undefined) {
      const next = args[i + 1];
      if (next === undefined || isOption(next, options)) return `--${name} needs a value`;
      i++;
    }
  }
  return undefined;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const at = s.indexOf(sep);
  return at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}

/**
 * `--grant -Abc…` as `--grant=-Abc…`: ids the hub prints (grant ids, made by the OAuth library) may
 * begin with '-', which parseArgs would otherwise refuse as an ambiguous option value.
 */
function bindValues(argv: string[], options: Options): string[] {
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

function isOption(arg: string, options: Options): boolean {
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
 * its user which store, and so which master key and tokens, it uses. With `coldStart` (`stdio`,
 * whose client waits for its first answer) keys written twice are not looked for. With
 * `makeNothing` (`doctor`, or a command with arguments still to check against the config, which
 * then calls makeDataDir) the per-user data dir is not made.
 */
export function configFromFlags(flags: Flags, opts: { quiet?: boolean; coldStart?: boolean; makeNothing?: boolean } = {}): CommandConfig {
  const loaded = loadConfig({ file: str(flags['config']), duplicates: opts.coldStart !== true });
  const c = loaded.config;
  const data = resolveDataDir({ flag: str(flags['data']), configured: loaded.dataDirSet ? c.dataDir : undefined, configFile: loaded.file });
  c.dataDir = data.dir;
  if (!opts.quiet) progress(data.line);
  const port = str(flags['port']);
  if (port !== undefined) {
    // parse() refused a bad one already; this is for a caller that built its flags itself.
    const n = portNumber(port);
    if (n === undefined) throw new UsageError('', portMistake(port), undefined);
    c.server.port = n;
  }
  const host = str(flags['host']);
  if (host !== undefined) {
    // Checked here, or the first to fail is whatever URL is built from it (an integration's) with words that do not name --host.
    const literal = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    if (!URL.canParse(`http://${literal}/`) || new URL(`http://${literal}/`).port !== '')
      throw new HubError('config_invalid', `--host ${JSON.stringify(host)}: expected a host name or an IP address to bind (127.0.0.1, ::1, 0.0.0.0)`);
    c.server.host = host;
  }
  // Made once every flag is known good: a mistyped one leaves no folder behind.
  if (opts.makeNothing !== true) makeDataDir(data);
  return { ...loaded, data };
}

/**
 * The data dir of `configFromFlags(flags, { makeNothing: true })`, made for a command that has
 * checked its arguments against the config and goes on to open the store.
 */
export function makeDataDir(data: ResolvedDataDir): void {
  // A folder the hub chose itself is private to the user, as the XDG spec asks of its base dirs.
  // makeDir, not Node's recursive mkdir: that one spins for ever when XDG_DATA_HOME is under /proc.
  if (data.source !== 'user') return;
  try {
    makeDir(data.dir, 0o700);
  } catch (err) {
    throw new HubError(
      'store_failed',
      `cannot make the data dir ${data.dir}: ${describeError(err)}; set XDG_DATA_HOME, dataDir or --data to a folder you can write`,
      {
        cause: err,
      },
    );
  }
}

/** `--port N` as a number, or undefined unless it is one (0–65535). */
export function portNumber(value: string): number | undefined {
  // Digits only: Number() also reads " " as 0, "0x1F90" and "1e4".
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  return n >= 0 && n <= 65535 ? n : undefined;
}

function portMistake(value: string): string {
  return `--port ${value}: expected a port number 0–65535`;
}

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Prints a failure the user can act on and sets a non-zero exit code: 2 for a usage mistake, 1
 * otherwise. Error texts may quote a provider or a remote client, so each line is made printable.
 */
export function fail(err: unknown): void {
  if (err instanceof UsageError) {
    const who = err.command === '' ? 'switchboard' : `switchboard ${err.command}`;
    process.stderr.write(`${who}: ${printable(err.message)}\n${err.usage === undefined ? '' : `${err.usage}\n`}`);
    process.exitCode = 2;
    return;
  }
  const prefix = err instanceof HubError ? `error (${err.code})` : 'error';
  const text = describeError(err).split('\n').map(printable).join('\n');
  process.stderr.write(`switchboard: ${prefix}: ${text}\n`);
  process.exitCode = err instanceof HubError && err.code === 'invalid_params' ? 2 : 1;
}

// The CLI's listings and the hub's pages escape alike.
export { printable };

/** One row of a text listing on stdout, printable: every list printer writes its rows through here. */
export function listLine(line: string): void {
  process.stdout.write(`${printable(line)}\n`);
}

/** Progress lines go to stderr so a command's stdout stays parseable. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

const LEVEL_WORDS: Record<number, string> = { 40: 'warning', 50: 'error', 60: 'fatal' };

/**
 * The log of a one-shot command (`tokens`, `queue`, `keys`…), read by a person at a terminal: its
 * warnings as `switchboard: warning: <message> (key: value)` lines, not the JSON lines a serving
 * hub writes for a log collector. The hub's redaction applies as everywhere.
 */
export function commandLogger(): Logger {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          process.stderr.write(`${line}\n`);
          continue;
        }
        const { level, time: _t, name: _n, msg, ...fields } = entry;
        const said = Object.entries(fields).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
        process.stderr.write(`switchboard: ${LEVEL_WORDS[Number(level)] ?? 'note'}: ${String(msg ?? '')}${said.length ? ` (${said.join(', ')})` : ''}\n`);
      }
      done();
    },
  });
  return createLogger({ level: 'warn', destination });
}

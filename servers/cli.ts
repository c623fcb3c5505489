#!/usr/bin/env node
// No static import of ours: `stdio` runs from the bundle (dist/bundle/stdio.cjs), which holds its
// own copy of every module this file would otherwise load first (the config loader and zod among them).
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const USAGE = `switchboard — a self-hosted MCP hub

usage: switchboard <command> [flags]

commands:
  init             write a commented switchboard.config.json; print the Claude Desktop entry
  serve            serve MCP over Streamable HTTP at /mcp (the default for npm start)
  stdio            serve MCP over stdin/stdout (for Claude Desktop and IDEs)
  tokens           create | list | revoke hub API tokens (list shows OAuth grants too)
  users invite U   print a one-time sign-in link for user U (OAuth sign-in without a token)
  clients          list | revoke OAuth clients users authorized (and their grants)
  doctor           check the config, the data dir and every downstream server
  connect I        print a link that links integration I for --user, and wait until it is linked
  connections      list | revoke linked accounts
  keys rotate      new master key; re-wraps the data keys online
  webhooks         list | replay inbound events (dead ones after their retries)
  queue            list | retry | purge outbound writes (dead ones after their retries)
  agents           list (version, breaker, error rate) | canary a candidate version on test cases

common flags:
  --version        print the version
  --config FILE    config file (default: switchboard.config.json if present)
  --data DIR       data directory (default: dataDir from the config, relative to its
                   folder; else ./data if it holds a store; else the per-user data dir)
  --port N         HTTP port (default 8787)
  --host H         HTTP bind address (default 127.0.0.1)
  --user U         identity of the stdio face (default: local)
`;

type Command = (argv: string[]) => Promise<void>;

/** Built by `npm run build` (scripts/bundle-stdio.ts) from the modules tsc wrote. */
const STDIO_BUNDLE = fileURLToPath(new URL('../bundle/stdio.cjs', import.meta.url));
const STDIO_MODULES = fileURLToPath(new URL('./stdio-entry.js', import.meta.url));

/**
 * `switchboard stdio` from the bundle, compiled with V8's code cache (servers/code-cache.ts): a
 * desktop client waits for its first answer, and loading one script whose bytecode is cached costs
 * a fraction of loading its ~350 modules one by one. Without a bundle, with one older than the
 * modules (a build by tsc alone after an earlier full one), or on a Node that cannot run it, the
 * same code runs from the modules, so what runs is never older than what was compiled.
 */
async function runStdio(argv: string[]): Promise<void> {
  const bundled = statSync(STDIO_BUNDLE, { throwIfNoEntry: false });
  const compiled = statSync(STDIO_MODULES, { throwIfNoEntry: false });
  const fresh = bundled !== undefined && (compiled === undefined || bundled.mtimeMs >= compiled.mtimeMs);
  const loader = fresh ? await import('./code-cache.js') : undefined;
  if (loader?.canLoadBundle()) {
    const bundle = loader.loadScript<typeof import('./stdio-entry.js')>(STDIO_BUNDLE, loader.cacheFileFor(STDIO_BUNDLE));
    await bundle.exports.runStdio(argv, { codeCache: bundle.cache, afterFirstList: () => bundle.save() });
    return;
  }
  await (await import('./stdio-entry.js')).runStdio(argv);
}

/** Each command loads only its own modules: `stdio` start-up time is what a client waits for. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  init: async () => (await import('./commands/init.js')).initCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  stdio: async () => runStdio,
  tokens: async () => (await import('./commands/tokens.js')).tokensCommand,
  users: async () => (await import('./commands/users.js')).usersCommand,
  clients: async () => (await import('./commands/clients.js')).clientsCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  keys: async () => (await import('./commands/keys.js')).keysCommand,
  connect: async () => (await import('./commands/connect.js')).connectCommand,
  connections: async () => (await import('./commands/connections.js')).connectionsCommand,
  webhooks: async () => (await import('./commands/webhooks.js')).webhooksCommand,
  queue: async () => (await import('./commands/queue.js')).queueCommand,
  agents: async () => (await import('./commands/agents.js')).agentsCommand,
};

/** The version in package.json, two folders up from dist/servers/cli.js (npm ships package.json in every package). */
function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** The common flags that take a value (README "CLI"): before the command, the next word is theirs. */
const VALUED = new Set(['--config', '--data', '--port', '--host', '--user']);

/**
 * `switchboard --config F tokens list` as `switchboard tokens list --config F`: flags written before
 * the command (as many CLIs allow) go after it, where its own parser reads them and refuses those
 * it does not take. `--help` and `--version` stay where they are.
 */
function commandFirst(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('--') && argv[i] !== '--help' && argv[i] !== '--version') {
    const flag = argv[i]!;
    leading.push(flag);
    i++;
    if (VALUED.has(flag) && i < argv.length) leading.push(argv[i++]!);
  }
  // Flags and no command: the missing command is the mistake to name.
  if (i === argv.length) return [];
  return i === 0 ? [...argv] : [...argv.slice(i), ...leading];
}

async function main(args: string[]): Promise<void> {
  const argv = commandFirst(args);
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    // `switchboard help tokens` is `switchboard tokens --help`, as git and npm read it, not the overview.
    const [topic, ...more] = rest;
    if (command === 'help' && topic !== undefined && more.length === 0) {
      const load = COMMANDS[topic];
      if (!load) {
        process.stderr.write(`switchboard: unknown command "${topic}"\n\n${USAGE}`);
        process.exitCode = 2;
        return;
      }
      await (await load())(['--help']);
      return;
    }
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-V') {
    // It takes no argument and no flag but the common ones (`switchboard --config F --version`):
    // anything else is a usage mistake (exit 2, usage), never printed over as if it were fine.
    if (rest.length > 0) (await import('./common.js')).parse(rest, {}, { command: '', usage: USAGE.trimEnd(), takes: 0 });
    process.stdout.write(`switchboard ${version()}\n`);
    return;
  }
  // A missing command is a usage mistake, as a missing subcommand is (exit 2, usage on stderr).
  if (command === undefined) {
    process.stderr.write(`switchboard: missing command\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`switchboard: unknown command "${command}"\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const run = await load();
  await run(rest);
}

let settled = false;
main(process.argv.slice(2))
  .catch(async (err: unknown) => (await import('./common.js')).fail(err))
  .finally(() => (settled = true));
// Node exits 0 when nothing is left to wait on, even with the command's own promise unsettled
// (an awaited request whose socket died without a word): that would print nothing and report
// success. Say so and fail instead.
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('switchboard: the command stopped before it finished (it was left waiting on nothing); run it again\n');
  process.exitCode = 1;
});

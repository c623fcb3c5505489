#!/usr/bin/env node
import { fail } from './common.js';
import { doctorCommand } from './commands/doctor.js';
import { serveCommand } from './commands/serve.js';
import { stdioCommand } from './commands/stdio.js';
import { tokensCommand } from './commands/tokens.js';

const USAGE = `switchboard — a self-hosted MCP hub

usage: switchboard <command> [flags]

commands:
  serve            serve MCP over Streamable HTTP at /mcp (the default for npm start)
  stdio            serve MCP over stdin/stdout (for Claude Desktop and IDEs)
  tokens           create | list | revoke hub API tokens
  doctor           check the config, the data dir and every downstream server

common flags:
  --config FILE    config file (default: switchboard.config.json if present)
  --data DIR       data directory (default: ./data)
  --port N         HTTP port (default 8787)
  --host H         HTTP bind address (default 127.0.0.1)
  --user U         identity of the stdio face (default: local)
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  serve: serveCommand,
  stdio: stdioCommand,
  tokens: tokensCommand,
  doctor: doctorCommand,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`switchboard: unknown command "${command}"\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  await run(rest);
}

main(process.argv.slice(2)).catch(fail);

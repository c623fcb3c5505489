import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { allTextOf, bearerClient } from '../helpers/clients.js';
import { eventually, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

/**
 * A key the operator gives a stdio server on its command line through `${NAME}` (`--api-key
 * ${KEY}`, a connection URL) is the operator's as much as one given through `env`: when the server
 * quotes its command line on stderr, neither a caller, /readyz nor the log is shown the key. A
 * substituted value of a few characters (a region) is no secret and stays.
 */

const ARGS_KEY = 'sk-operator-args-4242424242';
const ENV_KEY = 'sk-operator-env-4343434343';

/** Quotes its command line and its API_KEY on stderr and exits: at once with FAIL_START set, else on a tools/call. */
const QUOTING_SERVER = `
import readline from 'node:readline';
const quote = (then) => process.stderr.write('fatal: upstream refused ' + process.argv.slice(2).join(' ') + ' and env key ' + process.env.API_KEY + '\\n', then);
if (process.env.FAIL_START) quote(() => process.exit(1));
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
readline.createInterface({ input: process.stdin }).on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'quoting', version: '1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'query', inputSchema: { type: 'object' } }] } });
  else if (m.method === 'tools/call') quote(() => process.exit(1));
  else if (m.id !== undefined) send({ jsonrpc: '2.0', id: m.id, result: {} });
});
`;

describe("a stdio server's secrets given through ${NAME} in its args", () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let h: RunningHub | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await h?.stop();
    dir?.remove();
    client = h = dir = undefined;
  });

  it('are redacted from what a caller, /readyz and the log are shown of its stderr', async () => {
    dir = tmpDir();
    const server = join(dir.path, 'quoting.mjs');
    writeFileSync(server, QUOTING_SERVER);
    const entry = (env: Record<string, string>, isolation: 'user' | 'shared') => ({
      command: process.execPath,
      args: [server, '--api-key', '${OPERATOR_KEY}', '--region', '${REGION}'],
      env: { API_KEY: '${OPERATOR_ENV_KEY}', ...env },
      isolation,
    });
    const text = JSON.stringify({ mcpServers: { k: entry({}, 'user'), broken: entry({ FAIL_START: '1' }, 'shared') } });
    const env = { OPERATOR_KEY: ARGS_KEY, OPERATOR_ENV_KEY: ENV_KEY, REGION: 'eu1' };
    const { mcpServers } = parseConfigText(text, join(dir.path, 'switchboard.config.json'), env, () => {});
    const lines: string[] = [];
    const log = capturedLogger(lines);
    h = await startHub({ mcpServers }, { restartBaseMs: 60_000, log });
    const said = 'fatal: upstream refused --api-key [redacted] --region eu1 and env key [redacted]';

    client = await bearerClient(h.url, (await h.hub.tokens.create({ user: 'mallory' })).token, 'mallory');
    const failed = await client.callTool({ name: 'k__query', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(allTextOf(failed)).toBe(`k: the server stopped during the call (exit code 1; stderr: ${said}); it is being restarted`);

    const hub = h.hub;
    const detail = await eventually(() => {
      const d = hub.catalog.source('broken')?.status().detail;
      return d?.startsWith('could not start') ? d : undefined;
    });
    expect(detail).toMatch(new RegExp(`^could not start: exit code 1; stderr: ${said.replace(/[[\]]/g, '\\$&')}; restarting in \\d+ ms$`));

    expect(lines.some((l) => l.includes(said))).toBe(true);
    expect(lines.filter((l) => l.includes(ARGS_KEY) || l.includes(ENV_KEY))).toEqual([]);
  });
});

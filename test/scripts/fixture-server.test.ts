import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as StreamableHTTPClientTransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_TOOLS } from '../../src/mcp/fixtures/conformance-tools.js';
import { ROOT } from '../helpers/hub.js';

/**
 * scripts/fixture-server.ts is the downstream server of `npm run conformance:proxy`: the pairings
 * only test what they name if `--era 2025` really speaks nothing of 2026-07-28 and `--era 2026`
 * really negotiates it, over both transports. Real child processes, real SDK clients.
 */

const SERVER = join(ROOT, 'dist/scripts/fixture-server.js');
const EXPECTED_TOOLS = [...FIXTURE_TOOLS.keys(), 'test_trigger_tool_change', 'test_trigger_prompt_change'].sort();
const NEGOTIATED = { '2025': '2025-11-25', '2026': '2026-07-28' } as const;
type Era = keyof typeof NEGOTIATED;

const children: ChildProcess[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c().catch(() => {})));
  for (const c of children.splice(0)) c.kill('SIGTERM');
});

async function startHttp(era: Era): Promise<{ url: string; headers: Record<string, string> }> {
  const child = spawn(process.execPath, [SERVER, '--transport', 'http', '--era', era], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((res) => createInterface({ input: child.stdout! }).once('line', res));
  const info = JSON.parse(line) as { url: string; token?: string };
  expect(Object.keys(info).sort()).toEqual(era === '2026' ? ['token', 'url'] : ['url']);
  return { url: info.url, headers: info.token ? { authorization: `Bearer ${info.token}` } : {} };
}

/** The v2 SDK client as the hub configures it for downstream servers: it negotiates, preferring 2026-07-28. */
async function connectV2(transport: 'stdio' | 'http', era: Era): Promise<Client> {
  const client = new Client({ name: 'fixture-server-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto', probe: { timeoutMs: 5_000 } } });
  if (transport === 'stdio') {
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER, '--transport', 'stdio', '--era', era] }));
  } else {
    const { url, headers } = await startHttp(era);
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  }
  closers.push(() => client.close());
  return client;
}

describe.each([
  ['stdio', '2025'],
  ['stdio', '2026'],
  ['http', '2025'],
  ['http', '2026'],
] as const)('fixture server over %s, --era %s', (transport, era) => {
  it('negotiates the era it names and serves every fixture tool', async () => {
    const client = await connectV2(transport, era);
    expect(client.getNegotiatedProtocolVersion()).toBe(NEGOTIATED[era]);
    expect(client.getDiscoverResult() !== undefined).toBe(era === '2026');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(EXPECTED_TOOLS);
    // 2026-07-28 results name their server in `_meta`; 2025 results carry nothing extra.
    const meta = era === '2026' ? { _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'switchboard', version: '0.1.0' } } } : {};
    expect(await client.callTool({ name: 'test_simple_text' })).toEqual({
      content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
      ...meta,
    });
  });
});

describe('the 2025-only flavour to a 1.x SDK client', () => {
  it.each(['stdio', 'http'] as const)('over %s: initializes and asks for elicitation with a server→client request', async (transport) => {
    const client = new ClientV1({ name: 'v1', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      expect(req.params.message).toBe('Pick one');
      return { action: 'accept', content: { response: 'yes' } };
    });
    if (transport === 'stdio') {
      await client.connect(new StdioClientTransportV1({ command: process.execPath, args: [SERVER, '--transport', 'stdio', '--era', '2025'] }));
    } else {
      const { url } = await startHttp('2025');
      await client.connect(new StreamableHTTPClientTransportV1(new URL(url)));
    }
    closers.push(() => client.close());
    const result = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Pick one' } });
    expect(result).toEqual({ content: [{ type: 'text', text: 'User response: action=accept, content={"response":"yes"}' }] });
  });
});

describe('arguments', () => {
  it('refuses an unknown era with exit code 2 and the usage', async () => {
    const child = spawn(process.execPath, [SERVER, '--transport', 'http', '--era', '2027'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('close', res));
    expect(code).toBe(2);
    expect(stderr).toContain('usage: fixture-server --transport stdio|http --era 2025|2026');
    expect(stderr).toContain('era');
  });
});

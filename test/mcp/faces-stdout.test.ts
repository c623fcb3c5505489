import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, FIXTURE, tmpDir } from '../helpers/hub.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Drives `switchboard stdio` by hand, keeping every byte it writes to stdout, so the test can
 * check what a host's line parser would see rather than what an SDK transport tolerates.
 */
class RawStdioSession {
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly messages: Json[] = [];
  private nextId = 1;
  readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.stdoutLines.push(line);
      try {
        const v: unknown = JSON.parse(line);
        if (isObject(v)) this.messages.push(v);
      } catch {
        // Kept in stdoutLines; the assertions report it.
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => this.stderrLines.push(line));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  send(message: Json): void {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  async request(method: string, params: Json = {}): Promise<Json> {
    const id = this.nextId++;
    this.send({ id, method, params });
    return eventually(() => this.messages.find((m) => m['id'] === id), 15_000, 10);
  }

  endInput(): void {
    this.child.stdin.end();
  }
}

/** A JSON-RPC 2.0 message as the MCP stdio transport allows it: a request, a notification or a response. */
function isJsonRpcMessage(m: Json): boolean {
  if (m['jsonrpc'] !== '2.0') return false;
  if (typeof m['method'] === 'string') return true;
  const idOk = typeof m['id'] === 'string' || typeof m['id'] === 'number';
  return idOk && 'result' in m !== 'error' in m;
}

function toolNames(response: Json): string[] {
  const result = response['result'];
  if (typeof result !== 'object' || result === null || !('tools' in result) || !Array.isArray(result.tools)) return [];
  return result.tools.flatMap((t: unknown) => (typeof t === 'object' && t !== null && 'name' in t && typeof t.name === 'string' ? [t.name] : []));
}

describe('stdio face output', () => {
  let dir: ReturnType<typeof tmpDir>;
  let s: RawStdioSession;

  beforeAll(async () => {
    dir = tmpDir();
    const config = join(dir.path, 'switchboard.config.json');
    // Debug logging makes the hub as chatty as it gets.
    writeFileSync(config, JSON.stringify({ logLevel: 'debug', mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--stdio'] } } }));
    const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')], { stdio: 'pipe' });
    s = new RawStdioSession(child);
    const init = await s.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
    expect(init['result']).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: { name: 'switchboard' } });
    s.send({ method: 'notifications/initialized' });
    await eventually(async () => toolNames(await s.request('tools/list')).includes('fx__echo'), 20_000, 50);
  });
  afterAll(async () => {
    s?.endInput();
    await s?.exited;
    dir?.remove();
  });

  it('forwards progress from a fast downstream in order, before the result', async () => {
    // No delay between steps: the downstream writes progress and result back to back, so the hub
    // often reads them in one chunk. Several rounds, because one lucky read proves little.
    for (let round = 0; round < 5; round++) {
      const token = `p${round}`;
      const response = await s.request('tools/call', { name: 'fx__progress', arguments: { steps: 10 }, _meta: { progressToken: token } });
      expect(response).toMatchObject({ result: { content: [{ type: 'text', text: 'done 10' }] } });
      const before = s.messages.slice(0, s.messages.indexOf(response));
      const steps = before.filter((m) => m['method'] === 'notifications/progress' && isObject(m['params']) && m['params']['progressToken'] === token);
      expect(steps.map((m) => m['params'])).toEqual(
        Array.from({ length: 10 }, (_, i) => ({ progressToken: token, progress: i + 1, total: 10, message: `step ${i + 1}` })),
      );
    }
  });

  it('writes only JSON-RPC messages to stdout while logs go to stderr', async () => {
    expect(await s.request('tools/call', { name: 'fx__echo', arguments: { text: 'raw' } })).toMatchObject({
      result: { content: [{ type: 'text', text: 'raw' }] },
    });
    // A tool added at run time: the hub announces the new list on stdout too.
    await s.request('tools/call', { name: 'fx__add_tool', arguments: { name: 'late' } });
    await eventually(() => s.messages.some((m) => m['method'] === 'notifications/tools/list_changed'));
    // A downstream crash makes the hub log warnings and restart it: the noisiest thing it does.
    expect(await s.request('tools/call', { name: 'fx__crash', arguments: {} })).toMatchObject({ result: { isError: true } });
    await eventually(() => s.stderrLines.some((l) => l.includes('downstream server disconnected')), 10_000);
    await eventually(() => s.stderrLines.filter((l) => l.includes('downstream server ready')).length >= 2, 15_000);
    s.endInput();
    // A host closing stdin is the normal way a stdio server is stopped: a clean stop exits 0.
    expect(await s.exited).toBe(0);

    // Every stdout line is one JSON-RPC message: nothing else was written there, not even blank lines.
    expect(s.stdoutLines.length).toBe(s.messages.length);
    expect(s.messages.filter((m) => !isJsonRpcMessage(m))).toEqual([]);
    expect(s.messages.some((m) => m['method'] === 'notifications/tools/list_changed')).toBe(true);
    // The logs went to stderr instead.
    const logs = s.stderrLines.flatMap((l) => {
      try {
        const v: unknown = JSON.parse(l);
        return isObject(v) ? [v] : [];
      } catch {
        return [];
      }
    });
    expect(logs.map((l) => l['msg'])).toEqual(expect.arrayContaining(['downstream server ready', 'downstream server disconnected']));
  });
});

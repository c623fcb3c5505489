/**
 * `switchboard stdio` driven by a script: requests piped in, then stdin closed, the answers read
 * after. Every request read before the end is answered — a call that ends within the grace a stop
 * gives with its result, one still running after it with `hub_stopping` — and with nothing under
 * way the hub stops at once, as a desktop client that closes stdin to stop it expects.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ANSWER_GRACE_MS } from '../../src/mcp/owed-answers.js';
import { ASKING } from '../helpers/asking.js';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';

type Json = Record<string, unknown>;

/** A script's session: lines written to stdin, every stdout line kept, stderr lines with when they came. */
function script(dir: string): {
  child: ChildProcessWithoutNullStreams;
  answers: Json[];
  log: Array<{ at: number; line: string }>;
  exited: Promise<number | null>;
} {
  const config = join(dir, 'switchboard.config.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { a: { command: process.execPath, args: [ASKING, '--v1-stdio'] } } }));
  const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir, 'data')], { stdio: 'pipe' });
  const answers: Json[] = [];
  const log: Array<{ at: number; line: string }> = [];
  createInterface({ input: child.stdout }).on('line', (l) => void answers.push(JSON.parse(l) as Json));
  createInterface({ input: child.stderr }).on('line', (line) => void log.push({ at: Date.now(), line }));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, answers, log, exited };
}

const line = (m: Json) => `${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`;
const hold = (id: number, ms: number) => line({ id, method: 'tools/call', params: { name: 'a__hold', arguments: { ms }, _meta: { progressToken: id } } });

describe('switchboard stdio at the end of its input', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    dir?.remove();
  });

  /** A session whose downstream is up: initialized, and its tools listed. */
  async function ready() {
    dir = tmpDir();
    const s = script(dir.path);
    child = s.child;
    s.child.stdin.write(
      line({ id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'script', version: '1' } } }),
    );
    s.child.stdin.write(line({ method: 'notifications/initialized' }));
    s.child.stdin.write(line({ id: 1, method: 'tools/list' }));
    const listed = await eventually(() => s.answers.find((a) => a['id'] === 1), 20_000);
    expect(JSON.stringify(listed)).toContain('a__hold');
    return s;
  }

  it('answers every request read before stdin ended: a call that ends in time, one that does not (hub_stopping), a list', async () => {
    const s = await ready();
    s.child.stdin.write(hold(2, 300));
    s.child.stdin.write(hold(3, 60_000));
    s.child.stdin.write(line({ id: 4, method: 'tools/list' }));
    // Both calls run at the server (their progress came back) before stdin ends.
    await eventually(() =>
      [2, 3].every((t) => s.answers.some((a) => a['method'] === 'notifications/progress' && JSON.stringify(a).includes(`"progressToken":${t}`))),
    );
    s.child.stdin.end();
    expect(await s.exited).toBe(0);
    const byId = (id: number) => s.answers.find((a) => a['id'] === id && !('method' in a));
    expect(byId(2)).toMatchObject({ result: { content: [{ type: 'text', text: 'held' }] } });
    expect(byId(3)).toMatchObject({
      error: { code: -32000, message: expect.stringContaining('the hub stopped before it answered tools/call a__hold'), data: { code: 'hub_stopping' } },
    });
    expect(JSON.stringify(byId(4))).toContain('a__hold');
  });

  it('stops at once when nothing is under way', async () => {
    const s = await ready();
    const ended = Date.now();
    s.child.stdin.end();
    expect(await s.exited).toBe(0);
    const stopping = s.log.find((l) => l.line.includes('shutting down'));
    expect(stopping).toBeDefined();
    // Not after the grace calls under way would get.
    expect(stopping!.at - ended).toBeLessThan(ANSWER_GRACE_MS);
  });
});

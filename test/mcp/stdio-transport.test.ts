/**
 * The hub's transport to a stdio downstream, against a real child process: what one loop turn
 * sends leaves in one write, what the child prints comes back parsed, and what it wrote before it
 * exited is read before the connection closes.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildStdioTransport } from '../../src/mcp/downstream/stdio-transport.js';
import { eventually } from '../helpers/hub.js';

/**
 * Answers each request line with the number of the stdin read it arrived in; before the answers
 * to a read, a log notification that names the read.
 */
const CHILD = `
let reads = 0, rest = '';
process.stdin.on('data', (chunk) => {
  reads++;
  const lines = (rest + chunk).split('\\n');
  rest = lines.pop();
  const out = [JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'read ' + reads } })];
  for (const l of lines) if (l) out.push(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(l).id, result: { read: reads } }));
  process.stdout.write(out.join('\\n') + '\\n');
});
`;

/** How the child's stdin is written to: each call of the stream's `_write` / `_writev` is one system call's worth. */
function countWrites(t: ChildStdioTransport): Array<{ chunks: number }> {
  const stdin = (t as unknown as { child: ChildProcess }).child.stdin as Writable & {
    _write: (...a: unknown[]) => void;
    _writev: (chunks: unknown[], ...a: unknown[]) => void;
  };
  const calls: Array<{ chunks: number }> = [];
  const write = stdin._write.bind(stdin);
  const writev = stdin._writev.bind(stdin);
  stdin._write = (...a) => {
    calls.push({ chunks: 1 });
    write(...a);
  };
  stdin._writev = (chunks, ...a) => {
    calls.push({ chunks: chunks.length });
    writev(chunks, ...a);
  };
  return calls;
}

/** Answers the first request and says on stderr why it stops, then exits once both are written. */
const ANSWER_AND_EXIT = `
process.stdin.once('data', (chunk) => {
  const id = JSON.parse(String(chunk).split('\\n')[0]).id;
  process.stderr.write('Error: API_KEY is not set\\n', () =>
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } }) + '\\n', () => process.exit(1)));
});
`;

/** Starts a helper in its own session that keeps the leader's stdout and stderr open, says its pid, and exits. */
const LEAVE_HELPER = `
const { spawn } = require('node:child_process');
const helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
process.stderr.write('helper ' + helper.pid + '\\n', () => process.exit(0));
`;

const childOf = (t: ChildStdioTransport): ChildProcess => (t as unknown as { child: ChildProcess }).child;

const request = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {} } });

describe('the stdio downstream transport', () => {
  const open: ChildStdioTransport[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });

  it('sends what one turn of the loop sends in one write, and a later turn in another', async () => {
    const t = new ChildStdioTransport({ command: process.execPath, args: ['-e', CHILD], env: {} });
    open.push(t);
    const got: JSONRPCMessage[] = [];
    t.onmessage = (m) => got.push(m);
    await t.start();
    const writes = countWrites(t);
    await Promise.all([t.send(request(1)), t.send(request(2)), t.send(request(3))]);
    const first = await eventually(() => (got.filter((m) => 'result' in m).length === 3 ? got.slice() : undefined), 5_000);
    await new Promise((resolve) => setImmediate(resolve));
    await t.send(request(4));
    await eventually(() => (got.filter((m) => 'result' in m).length === 4 ? true : undefined), 5_000);
    const reads = new Map(got.flatMap((m) => ('result' in m ? [[m.id, (m.result as { read: number }).read] as const] : [])));
    expect(writes).toEqual([{ chunks: 3 }, { chunks: 1 }]);
    expect([reads.get(1), reads.get(2), reads.get(3)]).toEqual([1, 1, 1]);
    expect(reads.get(4)).toBe(2);
    // The notification before the answers is parsed and delivered in its place.
    expect(first[0]).toMatchObject({ method: 'notifications/message', params: { data: 'read 1' } });
  });

  it('delivers the answer and stderr a server wrote before it exited, then closes', async () => {
    const t = new ChildStdioTransport({ command: process.execPath, args: ['-e', ANSWER_AND_EXIT], env: {} });
    open.push(t);
    const got: JSONRPCMessage[] = [];
    t.onmessage = (m) => got.push(m);
    const closed = new Promise((resolve) => {
      t.onclose = () => resolve({ answers: got.length, stderr: t.stderrLog.summary() });
    });
    await t.start();
    const child = childOf(t);
    // The hub is busy elsewhere when the server exits (8 servers starting at once): Node reports
    // the exit before what the server wrote has been read.
    child.stdout?.pause();
    t.stderr.pause();
    const exited = once(child, 'exit');
    await t.send(request(1));
    await exited;
    child.stdout?.resume();
    t.stderr.resume();
    expect(await closed).toEqual({ answers: 1, stderr: 'Error: API_KEY is not set' });
    expect(t.exitInfo).toEqual({ code: 1, signal: null });
  });

  it('closes soon after the exit though a helper outside its process group keeps the pipes open', async () => {
    const t = new ChildStdioTransport({ command: process.execPath, args: ['-e', LEAVE_HELPER], env: {} });
    open.push(t);
    const closed = new Promise<void>((resolve) => {
      t.onclose = () => resolve();
    });
    await t.start();
    const exited = once(childOf(t), 'exit');
    const helper = Number(/^helper (\d+)$/.exec(await eventually(() => t.stderrLog.tail()[0], 5_000))?.[1]);
    try {
      await exited;
      const exitedAt = Date.now();
      await closed;
      expect(Date.now() - exitedAt).toBeLessThan(3_000);
    } finally {
      process.kill(helper, 'SIGKILL');
    }
  });
});

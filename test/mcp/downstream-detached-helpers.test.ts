/**
 * A stdio server that starts a helper in its own session (`spawn(…, { detached: true })`, as
 * puppeteer starts Chrome on Linux) does not leave it running when the hub stops it, when it
 * crashes, or when the hub is killed with SIGKILL: the helper is out of the server's process group,
 * which is all a group signal reaches, so it is found by parentage while the server runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessRegistry } from '../../src/mcp/downstream/process-registry.js';
import { procStat } from '../../src/mcp/downstream/proc-stat.js';
import { ChildStdioTransport } from '../../src/mcp/downstream/stdio-transport.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CLI, ROOT, eventually, tmpDir } from '../helpers/hub.js';

const LIMITS_SERVER = join(ROOT, 'dist/test/fixtures/limits-server.js');

/** A server stand-in that starts a helper in its own session, says its pid on stderr, and runs until signalled. */
const LEADER = `
const { spawn } = require('node:child_process');
const helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
helper.unref();
console.error('helper ' + helper.pid);
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z';
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function killLater(pid: number): void {
  cleanup.push(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  });
}

/** Starts the transport and waits for its helper's pid. */
async function withHelper(t: ChildStdioTransport, lines: string[]): Promise<number> {
  await t.start();
  killLater(t.pid!);
  const said = await eventually(() => lines.find((l) => l.startsWith('helper ')), 10_000);
  const helper = Number(said.slice('helper '.length));
  killLater(helper);
  await eventually(() => alive(helper) || undefined, 5_000);
  // The precondition: the helper left the server's process group.
  expect(procStat(helper)!.pgid).not.toBe(procStat(t.pid!)!.pgid);
  return helper;
}

describe.runIf(process.platform === 'linux')('a stdio server’s helper in its own session', () => {
  it('ends when the hub stops the server', async () => {
    const lines: string[] = [];
    const t = new ChildStdioTransport({ command: process.execPath, args: ['-e', LEADER], env: {}, onStderrLine: (l) => lines.push(l) });
    const helper = await withHelper(t, lines);
    await t.close();
    await eventually(() => !alive(helper) || undefined, 5_000).catch(() => {
      throw new Error(`the helper ${helper} outlived its server's stop`);
    });
  });

  it('ends when the server crashes, once the registry has looked for it', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const registry = new ProcessRegistry(dir.path, silentLogger(), 200);
    cleanup.push(() => void registry.close());
    const lines: string[] = [];
    const t = new ChildStdioTransport({ command: process.execPath, args: ['-e', LEADER], env: {}, registry, onStderrLine: (l) => lines.push(l) });
    const helper = await withHelper(t, lines);
    // What the registry's periodic look does, at once rather than after its interval.
    registry.lookForStrays();
    expect(registry.strays(t.pid!)).toEqual([{ pid: helper, start: procStat(helper)!.startTime }]);
    const closed = new Promise<void>((r) => (t.onclose = r));
    process.kill(t.pid!, 'SIGKILL');
    await closed;
    await eventually(() => !alive(helper) || undefined, 5_000).catch(() => {
      throw new Error(`the helper ${helper} outlived its server's crash`);
    });
  });

  it('ends with the next start on the data dir after the hub was killed with SIGKILL', { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const marker = `STRAY_${randomUUID().replaceAll('-', '')}`;
    // A real server (it exits on stdin EOF) that first starts a detached helper, as puppeteer does.
    const server = `import { spawn } from 'node:child_process';
spawn('sleep', ['300'], { detached: true, stdio: 'ignore' }).unref();
await import(${JSON.stringify(LIMITS_SERVER)});`;
    const config = join(dir.path, 'first.json');
    writeFileSync(
      config,
      JSON.stringify({ mcpServers: { puppet: { command: process.execPath, args: ['--input-type=module', '-e', server], env: { STRAY_MARK: marker } } } }),
    );
    const data = join(dir.path, 'data');
    const first = hub(config, data);
    cleanup.push(() => first.kill('SIGKILL'));
    // The registry's look (every few seconds while children run) records the helper.
    const records = () => {
      const files = existsSync(join(data, 'children')) ? readdirSync(join(data, 'children')) : [];
      return files.map((f) => readFileSync(join(data, 'children', f), 'utf8'));
    };
    await eventually(() => records().some((r) => r.includes('"op":"stray"')) || undefined, 30_000, 50);
    const helpers = marked(marker).filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep'));
    expect(helpers).toHaveLength(1);
    killLater(helpers[0]!);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // The server ends on stdin EOF; its helper, re-parented to init, does not.
    await eventually(() => marked(marker).length === 1 || undefined, 10_000, 50);
    expect(alive(helpers[0]!)).toBe(true);

    const empty = join(dir.path, 'second.json');
    writeFileSync(empty, JSON.stringify({ mcpServers: {} }));
    const second = hub(empty, data);
    cleanup.push(() => second.kill('SIGKILL'));
    await eventually(() => !alive(helpers[0]!) || undefined, 45_000, 50).catch(() => {
      throw new Error(`the helper ${helpers[0]} outlived the next start; second hub's log: ${second.log()}; records: ${records().join(' | ')}`);
    });
    second.stdin!.end();
    expect(await new Promise((r) => second.once('exit', r))).toBe(0);
  });
});

function hub(config: string, data: string): ChildProcess & { log: () => string } {
  const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout!.resume();
  let log = '';
  child.stderr!.on('data', (c: Buffer) => {
    log += c.toString('utf8');
  });
  return Object.assign(child, { log: () => log });
}

/** Pids of live processes whose environment carries the marker. */
function marked(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker) && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // Exited while being read.
    }
  }
  return out;
}

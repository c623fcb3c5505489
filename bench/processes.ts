import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The package root; this file runs as dist/bench/processes.js. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/servers/cli.js');
export const FIXTURE = join(ROOT, 'dist/test/fixtures/downstream-server.js');
/** The npm `mcp-proxy` bridge (a devDependency), run by its bin script as users run it with npx. */
export const MCP_PROXY = join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs');

const RELAY = join(ROOT, 'dist/bench/relay.js');

/** The fixture as a stdio server, in the shape of an `mcpServers` entry. */
export const FIXTURE_STDIO = { command: process.execPath, args: [FIXTURE, '--stdio'] } as const;

export interface Child {
  process: ChildProcess;
  /** The last stderr lines, shown when the child misbehaves. */
  stderrTail: () => string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop: (graceMs?: number) => Promise<void>;
}

export function tmpDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Spawns `node <args>` with stdout piped for the caller and stderr kept as a short tail. */
export function spawnNode(args: readonly string[], opts: { cwd?: string; nodeFlags?: readonly string[] } = {}): Child {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...args], {
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // If this process dies on an uncaught error, its children must not outlive it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const tail: string[] = [];
  // stderr is drained continuously: a full pipe would block the child's synchronous log writes.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line.slice(0, 400));
    if (tail.length > 20) tail.shift();
  });
  return {
    process: child,
    stderrTail: () => tail.join('\n'),
    stop: (graceMs = 15_000) => stopChild(child, graceMs),
  };
}

export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      res();
    });
    child.kill('SIGTERM');
  });
}

/** Resolves with the first stdout line that `match` accepts, or rejects on exit or timeout. */
export function waitForLine<T>(child: Child, match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((res, rej) => {
    const lines = createInterface({ input: child.process.stdout! });
    const done = (err: Error | undefined, value?: T) => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.process.off('exit', onExit);
      if (err) rej(err);
      else res(value as T);
    };
    const onLine = (line: string) => {
      const v = match(line);
      if (v !== undefined) done(undefined, v);
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (code ${code}) before it was ready:\n${child.stderrTail()}`));
    const timer = setTimeout(() => done(new Error(`${what} was not ready within ${timeoutMs} ms:\n${child.stderrTail()}`)), timeoutMs);
    lines.on('line', onLine);
    child.process.once('exit', onExit);
  });
}

export interface RunningFixture {
  child: Child;
  url: string;
}

/** The downstream fixture as its own process, serving Streamable HTTP on a free loopback port. */
export async function startFixtureHttp(): Promise<RunningFixture> {
  const child = spawnNode([FIXTURE, '--http', '0']);
  const port = await waitForLine(
    child,
    (line) => {
      try {
        const v: unknown = JSON.parse(line);
        return typeof v === 'object' && v !== null && 'port' in v && typeof v.port === 'number' ? v.port : undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    'fixture server',
  );
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}

/** A bare relay (bench/relay.ts) in its own process, passing everything to `origin`; `url` is its own origin. */
export async function startRelay(origin: string): Promise<{ child: Child; url: string }> {
  const child = spawnNode([RELAY, origin]);
  const port = await waitForLine(child, (line) => Number(/^\{"port":(\d+)\}$/.exec(line)?.[1]) || undefined, 15_000, 'relay');
  return { child, url: `http://127.0.0.1:${port}` };
}

export interface RunningHub {
  child: Child;
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  token: string;
  stop: () => Promise<void>;
}

/**
 * The hub as users run it: `switchboard serve` in its own process with a config file and a fresh
 * data dir, the admin token read from the first-start banner on stdout (or the file it names).
 */
export async function startHubProcess(
  opts: (
    | {
        /** The downstream's `mcpServers` entry: `{ url }` or `{ command, args }`. */
        downstream: Record<string, unknown>;
        sourceName: string;
      }
    | { /** A whole config file. */ config: Record<string, unknown> }
  ) & { nodeFlags?: readonly string[]; cli?: string },
): Promise<RunningHub> {
  const dir = tmpDir('switchboard-bench-');
  const config = join(dir.path, 'switchboard.config.json');
  const body = 'config' in opts ? opts.config : { mcpServers: { [opts.sourceName]: opts.downstream } };
  writeFileSync(config, JSON.stringify(body, null, 2));
  const child = spawnNode([resolve(opts.cli ?? CLI), 'serve', '--config', config, '--data', join(dir.path, 'data'), '--host', '127.0.0.1', '--port', '0'], {
    cwd: dir.path,
    ...(opts.nodeFlags ? { nodeFlags: opts.nodeFlags } : {}),
  });
  try {
    let url: string | undefined;
    const token = await waitForLine(
      child,
      (line) => {
        url ??= /serving MCP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(line)?.[1];
        // On a terminal the banner shows the token; on a pipe (here) it names a file holding it.
        const file = /^\s+(\/\S+\/admin-token)\s*$/.exec(line)?.[1];
        if (file) return readFileSync(file, 'utf8').trim();
        return /\b(sbt_[A-Za-z0-9_-]+)/.exec(line)?.[1];
      },
      30_000,
      'hub',
    );
    if (!url) throw new Error(`the hub printed a token but no loopback URL:\n${child.stderrTail()}`);
    await waitReady(new URL('/readyz', url).href, 30_000);
    return {
      child,
      url,
      token,
      stop: async () => {
        await child.stop();
        dir.remove();
      },
    };
  } catch (err) {
    await child.stop();
    dir.remove();
    throw err;
  }
}

/** Polls /readyz until every source is ready, so the first measured call does not race the connect. */
async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = await res.text();
      if (res.ok && /"status":"ready"/.test(last)) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hub not ready within ${timeoutMs} ms: ${last}`);
}

export interface RunningBridge {
  child: Child;
  url: string;
}

/**
 * `mcp-proxy` bridging the stdio fixture to Streamable HTTP, the way its README starts it
 * (`mcp-proxy --port N -- <command> <args>`), stateful sessions and its event store left at their
 * defaults, like the hub's 2025 sessions. Ready when its endpoint answers an initialize.
 */
export async function startMcpProxy(): Promise<RunningBridge> {
  const child = spawnNode([MCP_PROXY, '--host', '127.0.0.1', '--port', '0', '--server', 'stream', '--', FIXTURE_STDIO.command, ...FIXTURE_STDIO.args]);
  try {
    const port = await boundPort(child, 30_000);
    const url = `http://127.0.0.1:${port}/mcp`;
    await waitAnswering(url, child, 30_000);
    return { child, url };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/**
 * The TCP port a child listens on, once it does. mcp-proxy is started on port 0 and does not print
 * the port the OS gave it, so it is read from /proc (Linux): the child's socket inodes matched
 * against the kernel's table of listening sockets. A port probed free beforehand and handed to the
 * bridge could be taken by another process in between.
 */
async function boundPort(child: Child, timeoutMs: number): Promise<number> {
  const pid = child.process.pid!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`exited (code ${child.process.exitCode}) before it listened:\n${child.stderrTail()}`);
    const port = listeningPort(pid);
    if (port !== undefined) return port;
    if (Date.now() > deadline) throw new Error(`not listening within ${timeoutMs} ms:\n${child.stderrTail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const target = readlinkOrUndefined(`/proc/${pid}/fd/${fd}`);
    const inode = target === undefined ? undefined : /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      // sl local_address rem_address st ... inode: the local address is HEXIP:HEXPORT, st 0A is LISTEN.
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9] ?? '')) return Number.parseInt(cols[1]!.split(':')[1]!, 16);
    }
  }
  return undefined;
}

/** A file descriptor may close between listing and reading it. */
function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Polls with a 2025 initialize until the endpoint answers 200 (the child may still be spawning its server). */
async function waitAnswering(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench-probe', version: '1.0.0' } },
  };
  let last = '';
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${url}: the process exited (code ${child.process.exitCode}):\n${child.stderrTail()}`);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(init),
      });
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
      if (res.ok) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last}):\n${child.stderrTail()}`);
}

/** The pids of a process's direct children (Linux /proc), e.g. the stdio server a bridge spawned. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { configSchema, type HubConfig, type McpServerConfig } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub, type HubOptions } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** Compiled by `npm test`'s pretest build: children are spawned from dist, as users run them. */
export const CLI = join(ROOT, 'dist/servers/cli.js');
export const FIXTURE = join(ROOT, 'dist/test/fixtures/downstream-server.js');

export function tmpDir(prefix = 'switchboard-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A downstream entry that runs the fixture server over stdio. */
export function fixtureStdio(env: Record<string, string> = {}, extra: Record<string, unknown> = {}): McpServerConfig {
  return { command: process.execPath, args: [FIXTURE, '--stdio'], env, ...extra } as McpServerConfig;
}

export interface RunningFixture {
  url: string;
  port: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Spawns the fixture as a Streamable HTTP server on a free loopback port. */
export async function fixtureHttp(env: Record<string, string> = {}): Promise<RunningFixture> {
  const child = spawn(process.execPath, [FIXTURE, '--http', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((res, rej) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (l) => res((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => rej(new Error(`fixture exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    child,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

export interface RunningHub {
  hub: Hub;
  /** `http://127.0.0.1:PORT/mcp` */
  url: string;
  port: number;
  /** A valid hub API token. */
  token: string;
  dataDir: string;
  stop: () => Promise<void>;
}

/**
 * An in-process hub with a fresh data dir and one API token, listening on loopback on the port the
 * OS picks (`server.port` 0 unless the config names one). Its listener is bound before the hub is
 * built, as `serve` does, so the hosted sandbox and every link name the port it got: read it from
 * the result.
 */
export async function startHub(config: Partial<Record<keyof HubConfig, unknown>> = {}, opts: Partial<HubOptions> = {}): Promise<RunningHub> {
  const dir = tmpDir();
  const parsed = configSchema.parse({ integrations: {}, ...config, dataDir: dir.path, server: { port: 0, ...(config.server as object | undefined) } });
  // Loopback whatever the config's host says: a test of a wildcard bind's rules is not exposed.
  const listener = opts.listener ?? (await bindHttp(parsed.server, { host: '127.0.0.1' }));
  let hub: Hub;
  try {
    hub = new Hub({ config: parsed, log: silentLogger(), hosted: [hostedSandbox()], ...opts, listener });
  } catch (err) {
    await listener.close();
    dir.remove();
    throw err;
  }
  const { token } = await hub.tokens.create({ user: 'alice' });
  hub.start();
  await hub.ready();
  const l = await hub.listen();
  return {
    hub,
    url: l.url,
    port: l.port,
    token,
    dataDir: dir.path,
    stop: async () => {
      await hub.stop();
      dir.remove();
    },
  };
}

/** Polls until `check` returns a value or the deadline passes (for events that cross processes). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion in `cwd`, so no config file from the repository is picked up. */
export function runCli(args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

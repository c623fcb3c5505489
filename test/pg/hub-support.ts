import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { CLI, eventually, type CliResult } from '../helpers/hub.js';

/**
 * `switchboard serve` and the other commands as processes on a PostgreSQL store, for the
 * test/pg/hub-*.test.ts suites. Each replica has a data dir of its own; the master key comes
 * from the environment, the same for all, as the README asks of replicas.
 */

/** A master key every process of one test shares (SWITCHBOARD_MASTER_KEY: base64 of 32 bytes). */
export function sharedMasterKey(): string {
  return randomBytes(32).toString('base64');
}

export interface Serving {
  child: ChildProcess;
  url: string;
  origin: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `serve` on the port the OS picks; resolves once it says where it serves, or rejects with its output. */
export async function serveProcess(args: string[], cwd: string, env: Record<string, string>): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  const url = await eventually(() => {
    if (child.exitCode !== null || child.signalCode !== null) return 'exited';
    return /serving MCP at (\S+)/.exec(out)?.[1];
  }, 30_000).catch(() => 'silent');
  if (url === 'exited' || url === 'silent') {
    child.kill('SIGKILL');
    throw new Error(`serve ${url === 'exited' ? 'exited' : 'said nothing for 30 s'} before serving:\n${out}`);
  }
  return {
    child,
    url,
    origin: new URL(url).origin,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a command to its end with extra environment. */
export function runCommand(args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Readiness {
  status: number;
  body: { status: string; store?: { kind: string; ok: boolean; error?: string } };
}

export async function readyz(origin: string): Promise<Readiness> {
  const res = await fetch(`${origin}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

/**
 * Takes the database away from every client and gives it back, as an outage does: while it is
 * away no one may connect (`ALLOW_CONNECTIONS false`) and every open connection is ended.
 */
export async function setDatabaseReachable(adminUrl: string, database: string, reachable: boolean): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS ${reachable ? 'true' : 'false'}`);
    if (!reachable) await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
  } finally {
    await c.end();
  }
}

/** The admin URL (the server's `postgres` database) of a database URL from `freshDatabase`. */
export function adminUrlOf(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

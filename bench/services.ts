/**
 * Throwaway PostgreSQL and Redis servers on loopback for the PostgreSQL/Redis test suites and
 * `npm run bench:store`: started from the binaries of this machine, nothing persisted. Outside
 * vitest (the bench) as inside it (test/helpers/postgres.ts and redis.ts add the skip rules).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The external server the suites use instead of a throwaway one, when set. */
export const PG_URL_ENV = 'SWITCHBOARD_TEST_PG_URL';
export const REDIS_URL_ENV = 'SWITCHBOARD_TEST_REDIS_URL';

/** The folder holding initdb, pg_ctl and postgres, or undefined. */
export function findPgBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  // Debian and Ubuntu keep the server binaries off PATH, one folder per major version.
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

export interface PgServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres, or SWITCHBOARD_TEST_PG_URL. */
  adminUrl: string;
  /** Stops the cluster and removes its folder; a no-op for an external server. */
  stop(): void;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** PostgreSQL refuses to run as root: as root, the server's commands run as `postgres`. */
function run(bin: string, args: string[]): void {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a throwaway cluster (or names the external server). The caller stops it; `freshDatabase`
 * starts one per process on first use when no global setup provided one.
 */
export async function startPostgres(): Promise<PgServer> {
  const external = process.env[PG_URL_ENV];
  if (external) return { adminUrl: external, stop: () => {} };
  const bin = findPgBin();
  if (bin === undefined) throw new Error(`no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin, and ${PG_URL_ENV} is not set`);
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-pg-'));
  const data = join(dir, 'data');
  if (isRoot()) {
    const user = postgresUser();
    if (user === undefined) throw new Error('no postgres OS user');
    chownSync(dir, user.uid, user.gid);
  }
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freePort();
    // Durability is not under test: fsync and friends off make a cluster start and a DDL fast.
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        cleanup();
      }
    };
    process.once('exit', stop);
    return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Whether `redis-server` runs on this machine. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

/** A throwaway redis-server, on `port` when given (a Redis that comes back where one went away), else a free one. */
export async function startRedis(port?: number): Promise<TestRedis> {
  const given = process.env[REDIS_URL_ENV];
  if (given && port === undefined) return { url: given, stop: async () => {} };
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${out.slice(-500)}`)));
    child.once('error', reject);
  });
  // `--loglevel warning` hides the ready line on some builds: a PING answered is as good.
  await Promise.race([ready, pingUntilUp(port)]);
  // Its exit at `stop` rejects it later: nobody is waiting for it then.
  ready.catch(() => {});
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pingUntilUp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.once('data', (b) => {
        s.destroy();
        resolve(b.toString().startsWith('+PONG'));
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

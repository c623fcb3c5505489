import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Redis for the PostgreSQL/Redis suite: `SWITCHBOARD_TEST_REDIS_URL` when set, else a
 * `redis-server` of this machine started on a free loopback port with nothing persisted.
 * Without either the suite is skipped with the reason printed, unless `SWITCHBOARD_REQUIRE_PG=1`
 * (CI's switch for the whole suite), where a missing server is a failure.
 */
export const redisSkip: string | undefined = (() => {
  if (process.env.SWITCHBOARD_TEST_REDIS_URL) return undefined;
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  const reason = 'no redis-server on PATH and SWITCHBOARD_TEST_REDIS_URL unset';
  if (process.env.SWITCHBOARD_REQUIRE_PG === '1') throw new Error(`SWITCHBOARD_REQUIRE_PG=1 but ${reason}`);
  console.warn(`skipping the Redis tests: ${reason}`);
  return reason;
})();

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

/** A key prefix of its own for each test, so tests sharing one server never see each other's keys. */
export function testPrefix(): string {
  return `t${randomUUID().slice(0, 8)}:`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  const given = process.env.SWITCHBOARD_TEST_REDIS_URL;
  if (given) return { url: given, stop: async () => {} };
  const port = await freePort();
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
  const { Socket } = await import('node:net');
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

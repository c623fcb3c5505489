/**
 * Several `switchboard serve` replicas on loopback as an operator runs them (issue 13): the built
 * CLI, one PostgreSQL database (fresh per cluster), one Redis (a key prefix of its own), one master
 * key in the environment of every replica and command, a data dir each, and a load balancer in
 * front whose URL is every replica's `server.publicUrl` (links, OAuth callbacks and webhook URLs
 * name the balancer, as they would name the public host).
 *
 * Ports are chosen before anything starts: the balancer must know its backends, and the replicas
 * must know the balancer's URL; a restarted replica comes back on the same port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { describe } from 'vitest';
import { type Balancer, startBalancer } from '../helpers/balancer.js';
import { type ClientKind, connectClient, type FaceClient } from '../helpers/clients.js';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';
import { type FreshDatabase, freshDatabase, PG_SKIP_REASON } from '../helpers/postgres.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';

export interface Replica {
  /** `http://127.0.0.1:PORT`, reached directly (not through the balancer). */
  readonly base: string;
  readonly port: number;
  readonly dataDir: string;
  /** The running process, or undefined while it is down. */
  child: ChildProcess | undefined;
  /** Everything it wrote to stdout and stderr, across restarts. */
  output: string;
}

export interface Cluster {
  /** The balancer's origin: what clients, browsers and providers are given. */
  readonly url: string;
  /** `${url}/mcp`. */
  readonly mcpUrl: string;
  readonly balancer: Balancer;
  readonly replicas: readonly Replica[];
  readonly db: FreshDatabase;
  readonly redis: { url: string; keyPrefix: string };
  readonly configFile: string;
  /** The environment every replica and command runs with (the shared master key). */
  readonly env: NodeJS.ProcessEnv;
  /** A hub API token for `user`, made with the CLI against the shared database. */
  token(user: string, tenant?: string): Promise<string>;
  /** Runs the CLI with the cluster's config and a replica's data dir (default the first). */
  cli(args: readonly string[], replica?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Queries the shared database from outside, as another process would. */
  query<R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Sends `signal` to replica i and waits for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts replica i again on its port and data dir; resolves once /readyz answers 200. */
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  replicas?: number;
  /** Merged into every replica's config (integrations, agents, logLevel, …). */
  config?: Record<string, unknown>;
  /** Route 2025-era sessions by Mcp-Session-Id, as the README's balancer does. */
  sticky?: boolean;
  /** Leave Redis out of the config (each replica keeps buckets and fan-out to itself): shows what Redis is for. */
  withoutRedis?: boolean;
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

/** Balancer first (it only needs the ports), then the replicas: one alone to migrate, the rest together. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const n = opts.replicas ?? 3;
  const dir = tmpDir('switchboard-cluster-');
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const replicas: Replica[] = ports.map((port, i) => {
    const dataDir = join(dir.path, `replica-${i}`);
    mkdirSync(dataDir);
    return { base: `http://127.0.0.1:${port}`, port, dataDir, child: undefined, output: '' };
  });
  const balancer = await startBalancer(
    replicas.map((r) => r.base),
    { sticky: opts.sticky ?? true },
  );
  let db: FreshDatabase | undefined;
  let redisServer: TestRedis | undefined;
  const pool: { client?: pg.Pool } = {};
  const stopAll = async () => {
    await Promise.all(replicas.map((_, i) => stop(i, 'SIGTERM')));
    await balancer.close();
    await pool.client?.end().catch(() => {});
    await db?.drop().catch(() => {});
    await redisServer?.stop();
    dir.remove();
  };

  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', SWITCHBOARD_MASTER_KEY: randomBytes(32).toString('base64') };
  // A DATABASE_URL of the caller's shell must not pick another database than the config's.
  delete env.DATABASE_URL;

  const stop = async (i: number, signal: NodeJS.Signals): Promise<void> => {
    const child = replicas[i]!.child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    }
    replicas[i]!.child = undefined;
  };

  const configFile = join(dir.path, 'switchboard.config.json');
  const launch = async (i: number): Promise<void> => {
    const r = replicas[i]!;
    const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, '--data', r.dataDir, '--port', String(r.port)], {
      cwd: r.dataDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    r.child = child;
    child.stdout!.on('data', (c: Buffer) => (r.output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (r.output += c.toString()));
    let last = 'no answer';
    // Generous: on two cores shared with other suites a replica has taken 30 s to come up.
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`replica ${i} exited before it was ready:\n${r.output}`);
        const ready = await fetch(`${r.base}/readyz`).catch((err: unknown) => new Error(String(err)));
        last = ready instanceof Error ? ready.message : `${ready.status} ${await ready.text()}`;
        return ready instanceof Error || ready.status !== 200 ? undefined : true;
      },
      90_000,
      100,
    ).catch((err: unknown) => {
      throw new Error(`replica ${i} not ready (${last}): ${err instanceof Error ? err.message : String(err)}\n${r.output}`);
    });
  };

  try {
    db = await freshDatabase();
    redisServer = await startRedis();
    const redis = { url: redisServer.url, keyPrefix: testPrefix() };
    const config = {
      logLevel: 'warn',
      ...opts.config,
      server: { publicUrl: balancer.url, ...((opts.config?.['server'] as Record<string, unknown> | undefined) ?? {}) },
      store: { url: db.url },
      ...(opts.withoutRedis ? {} : { redis }),
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    await launch(0);
    await Promise.all(replicas.slice(1).map((_, i) => launch(i + 1)));
    const database = db;
    const cli = (args: readonly string[], replica = 0) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const dataDir = replicas[replica]!.dataDir;
        const child = spawn(process.execPath, [CLI, ...args, '--config', configFile, '--data', dataDir], {
          cwd: dataDir,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    return {
      url: balancer.url,
      mcpUrl: `${balancer.url}/mcp`,
      balancer,
      replicas,
      db: database,
      redis,
      configFile,
      env,
      cli,
      async token(user, tenant) {
        const r = await cli(['tokens', 'create', '--user', user, ...(tenant ? ['--tenant', tenant] : [])]);
        if (r.code !== 0) throw new Error(`tokens create failed (${r.code}): ${r.stderr}`);
        return r.stdout.trim();
      },
      async query<R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
        pool.client ??= new pg.Pool({ connectionString: database.url, max: 2 });
        return (await pool.client.query(sql, params as unknown[])).rows as R[];
      },
      kill: (i, signal = 'SIGTERM') => stop(i, signal),
      async restart(i) {
        await stop(i, 'SIGTERM');
        await launch(i);
      },
      close: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Which replica answered, by its base URL, from the balancer's counts: spread checks read it. */
export function hitsByReplica(c: Cluster): number[] {
  return c.replicas.map((r) => c.balancer.hits.get(r.base) ?? 0);
}

/** A suite on a cluster needs both servers: skipped (with the reasons printed) where either is missing. */
export const describeCluster = describe.skipIf(PG_SKIP_REASON !== null || redisSkip !== undefined);

/**
 * A Standard Webhooks delivery of one event (id, timestamp, `v1` signature over `id.ts.body`), as
 * a provider sends it and re-sends it: a redelivery is the same id, body and a fresh timestamp.
 */
export function signedDelivery(secret: string, id: string, body: string): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const ts = Math.floor(Date.now() / 1000).toString();
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

/** Runs `jobs` with at most `width` at once; the results in order. */
export async function inParallel<T>(jobs: ReadonlyArray<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/**
 * The test authorization server's integration (test/fakes/oidc.ts) taking Standard Webhooks that
 * name the provider account in `account_id`; the account id of a link is learned from the API's
 * answer, so deliveries naming `alice@acme` reach alice's connection and her events.
 */
export function acmeWithWebhooks(integration: Record<string, unknown>, secret: string): Record<string, unknown> {
  return {
    ...integration,
    account: { from: { request: '/things', at: 'account' } },
    webhooks: { scheme: 'standard-webhooks', secrets: [secret], accountFrom: 'body:account_id', typeFrom: 'body:type' },
  };
}

/** A client of one user, of one kind, connected to one replica directly. */
export interface ReplicaClient {
  user: string;
  kind: ClientKind;
  replica: number;
  client: FaceClient;
}

/** A 2025-era and a 2026-era client of each user (name → hub API token) on each of the given replicas. */
export async function clientsOnReplicas(c: Cluster, replicas: readonly number[], tokens: Record<string, string>): Promise<ReplicaClient[]> {
  const out: ReplicaClient[] = [];
  for (const replica of replicas)
    for (const [user, token] of Object.entries(tokens))
      for (const kind of ['v2-legacy', 'v2-auto'] as const)
        out.push({ user, kind, replica, client: await connectClient(kind, { transport: 'http', url: `${c.replicas[replica]!.base}/mcp`, token }) });
  return out;
}

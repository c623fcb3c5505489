/**
 * What PostgreSQL and Redis cost against the embedded SQLite store, in one run (issue 13):
 *
 * 1. Per operation — a tool call (an integration read), a webhook (accepted and processed) and a
 *    queued write (enqueued, sent, done) — the hub process's CPU ms and its store queries (pg:
 *    client queries, each one round trip, BEGIN/COMMIT included; SQLite: statements run), on a
 *    hub on SQLite and on a hub on PostgreSQL + Redis, side by side, from a query-counting preload
 *    (bench/count-queries.ts). The hub's idle work over the same time (heartbeats, sweeps) is
 *    measured first and subtracted.
 * 2. Webhook acceptance throughput of three replicas on one PostgreSQL and Redis ÷ one replica,
 *    autocannon in this process, phases alternated. On two cores the replicas, PostgreSQL, Redis
 *    and the load generator share the same two CPUs: the figure shows what that machine gives,
 *    not what three machines would.
 *
 *   npm run bench:store -- [--ops 300] [--seconds 5] [--rounds 3] [--connections 48] [--json]
 */
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import autocannon from 'autocannon';
import pg from 'pg';
import { startBucketApi } from '../test/fixtures/bucket-api.js';
import { processCpuMs } from './cpu.js';
import { CLI, type Child, ROOT, spawnNode, tmpDir, waitForLine } from './processes.js';
import { freePort, startPostgres, startRedis } from './services.js';
import { median, positiveArg } from './stats.js';

const PRELOAD = join(ROOT, 'dist/bench/count-queries.js');
const SECRET_KEY = randomBytes(32);
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ops: { type: 'string', default: '300' },
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '48' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  return {
    ops: Math.round(positiveArg('ops', values.ops, 100_000)),
    seconds: positiveArg('seconds', values.seconds, 120),
    rounds: Math.round(positiveArg('rounds', values.rounds, 20)),
    connections: Math.round(positiveArg('connections', values.connections, 1000)),
    json: values.json,
  };
}

function hubConfig(apiUrl: string, shared?: { db: string; redis: string }): Record<string, unknown> {
  return {
    logLevel: 'warn',
    ...(shared ? { store: { url: shared.db }, redis: { url: shared.redis, keyPrefix: `bench${randomBytes(3).toString('hex')}:` } } : {}),
    outbox: { waitMs: 60_000 },
    integrations: {
      notes: {
        type: 'custom',
        title: 'Notes',
        apiBaseUrl: apiUrl,
        auth: { type: 'apiKey', header: 'x-api-key', value: 'k-bench' },
        idempotencyHeader: 'Idempotency-Key',
        // Far above what the bench sends: pacing must not be what is measured.
        rateLimit: { perApp: { perSecond: 5_000, burst: 500 } },
        tools: {
          list: { description: 'Lists notes', method: 'GET', path: '/notes', readOnly: true },
          create: { description: 'Creates a note', method: 'POST', path: '/notes', input: { type: 'object', properties: { text: { type: 'string' } } } },
        },
      },
      // The deliveries' own integration: one called with a key or none has no linked accounts to route
      // events to, and the hub refuses webhooks beside it, so it is linked through OAuth (never used
      // here); the cost measured is the delivery's intake.
      hooks: {
        type: 'custom',
        apiBaseUrl: apiUrl,
        oauth: { authorizeUrl: `${apiUrl}/authorize`, tokenUrl: `${apiUrl}/token`, clientId: 'bench', clientSecret: 'bench' },
        tools: {},
        webhooks: { scheme: 'standard-webhooks', secrets: [SECRET], typeFrom: 'body:type' },
      },
    },
  };
}

interface Hub {
  child: Child;
  base: string;
  pid: number;
  countFile: string;
  dataDir: string;
  configFile: string;
}

async function startHub(dir: string, name: string, config: Record<string, unknown>, port = 0): Promise<Hub> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const configFile = join(dataDir, 'switchboard.config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const countFile = join(dataDir, 'counts.json');
  // spawn copies the environment when it runs: each hub gets its own count file.
  process.env.SWITCHBOARD_BENCH_COUNT_FILE = countFile;
  const child = spawnNode([CLI, 'serve', '--config', configFile, '--data', dataDir, '--port', String(port)], {
    cwd: dataDir,
    nodeFlags: ['--import', PRELOAD],
  });
  const base = await waitForLine(child, (l) => /serving MCP at (http:\/\/127\.0\.0\.1:\d+)\/mcp/.exec(l)?.[1], 60_000, name);
  return { child, base, pid: child.process.pid!, countFile, dataDir, configFile };
}

function tokenFor(h: Hub): string {
  const r = spawnSync(process.execPath, [CLI, 'tokens', 'create', '--user', 'bench', '--config', h.configFile, '--data', h.dataDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tokens create: ${r.stderr}`);
  return r.stdout.trim();
}

async function queries(h: Hub): Promise<number> {
  rmSync(h.countFile, { force: true });
  h.child.process.kill('SIGUSR2');
  for (let i = 0; i < 200 && !existsSync(h.countFile); i++) await new Promise((r) => setTimeout(r, 10));
  const c = JSON.parse(readFileSync(h.countFile, 'utf8')) as { pg: number; sqlite: number };
  return c.pg + c.sqlite;
}

async function inParallel(n: number, width: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await job(next++);
    }),
  );
}

let serial = 0;
const run = randomBytes(4).toString('hex');
function delivery(): { headers: Record<string, string>; body: string } {
  const id = `msg_${run}_${(serial++).toString(36)}`;
  const ts = Math.floor(Date.now() / 1000).toString();
  const body = JSON.stringify({ type: 'ticket.updated', data: { id } });
  const sig = createHmac('sha256', SECRET_KEY).update(`${id}.${ts}.${body}`).digest('base64');
  return { headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` }, body };
}

interface Cost {
  cpuMs: number;
  queries: number;
}

/** Per-op cost of `ops` runs of `op` (after a warm-up), the idle rate over the same time subtracted. */
async function cost(h: Hub, idle: { cpuPerMs: number; queriesPerMs: number }, ops: number, op: (i: number) => Promise<void>, settle: boolean): Promise<Cost> {
  await inParallel(Math.ceil(ops / 10), 8, op);
  const t0 = performance.now();
  const c0 = processCpuMs(h.pid) ?? Number.NaN;
  const q0 = await queries(h);
  await inParallel(ops, 8, op);
  // Webhooks are answered before they are processed: wait until the workers have stopped querying.
  let q1 = await queries(h);
  if (settle)
    for (let last = -1; q1 !== last; ) {
      last = q1;
      await new Promise((r) => setTimeout(r, 400));
      q1 = await queries(h);
    }
  const c1 = processCpuMs(h.pid) ?? Number.NaN;
  const ms = performance.now() - t0;
  return { cpuMs: (c1 - c0 - idle.cpuPerMs * ms) / ops, queries: (q1 - q0 - idle.queriesPerMs * ms) / ops };
}

async function perOperation(h: Hub, ops: number): Promise<Record<'toolCall' | 'webhook' | 'queuedWrite', Cost>> {
  const token = tokenFor(h);
  const client = new Client({ name: 'bench-store', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${h.base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
    };
    await call('notes__list', {});
    // Idle: what the hub does on its own (heartbeats, sweeps, pollers) while nothing is asked of it.
    const t0 = performance.now();
    const c0 = processCpuMs(h.pid) ?? Number.NaN;
    const q0 = await queries(h);
    await new Promise((r) => setTimeout(r, 3_000));
    const ms = performance.now() - t0;
    const idle = { cpuPerMs: ((processCpuMs(h.pid) ?? Number.NaN) - c0) / ms, queriesPerMs: ((await queries(h)) - q0) / ms };
    const hook = async () => {
      const d = delivery();
      const res = await fetch(`${h.base}/webhooks/hooks`, { method: 'POST', headers: d.headers, body: d.body });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    };
    return {
      toolCall: await cost(h, idle, ops, () => call('notes__list', {}), false),
      webhook: await cost(h, idle, ops, hook, true),
      queuedWrite: await cost(h, idle, ops, (i) => call('notes__create', { text: `n${i}` }), false),
    };
  } finally {
    await client.close();
  }
}

async function acceptance(urls: readonly string[], connections: number, seconds: number): Promise<{ perSecond: number; non2xx: number }> {
  const each = Math.max(1, Math.round(connections / urls.length));
  const runs = await Promise.all(
    urls.map((url) =>
      autocannon({
        url: `${url}/webhooks/hooks`,
        method: 'POST',
        connections: each,
        duration: seconds,
        requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, ...delivery() }) }],
      }),
    ),
  );
  return { perSecond: runs.reduce((n, r) => n + r.requests.average, 0), non2xx: runs.reduce((n, r) => n + r.non2xx + r.errors, 0) };
}

async function createDatabase(adminUrl: string): Promise<string> {
  const name = `switchboard_bench_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  // One master key for every replica of a shared store, as an operator sets it.
  process.env.SWITCHBOARD_MASTER_KEY = randomBytes(32).toString('base64');
  delete process.env.DATABASE_URL;
  const dir = tmpDir('switchboard-bench-store-');
  const api = await startBucketApi({ perSecond: 100_000, burst: 10_000 });
  const pgServer = await startPostgres();
  const redis = await startRedis();
  const hubs: Hub[] = [];
  try {
    const shared = { db: await createDatabase(pgServer.adminUrl), redis: redis.url };
    process.stderr.write('  per operation: a hub on SQLite, then a hub on PostgreSQL + Redis\n');
    const sqliteHub = await startHub(dir.path, 'sqlite', hubConfig(api.url));
    hubs.push(sqliteHub);
    const sqlite = await perOperation(sqliteHub, o.ops);
    await sqliteHub.child.stop();
    const pgHub = await startHub(dir.path, 'pg', hubConfig(api.url, shared));
    hubs.push(pgHub);
    const postgres = await perOperation(pgHub, o.ops);
    await pgHub.child.stop();

    process.stderr.write('  webhook throughput: three replicas on one PostgreSQL + Redis against one of them\n');
    const replicaConfig = hubConfig(api.url, { db: await createDatabase(pgServer.adminUrl), redis: redis.url });
    const replicas: Hub[] = [];
    for (let i = 0; i < 3; i++) replicas.push(await startHub(dir.path, `replica-${i}`, replicaConfig, await freePort()));
    hubs.push(...replicas);
    const urls = replicas.map((r) => r.base);
    await acceptance(urls, o.connections, 1);
    const one: number[] = [];
    const three: number[] = [];
    let non2xx = 0;
    for (let round = 0; round < o.rounds; round++) {
      for (const n of round % 2 === 0 ? [1, 3] : [3, 1]) {
        const r = await acceptance(urls.slice(0, n), o.connections, o.seconds);
        (n === 1 ? one : three).push(r.perSecond);
        non2xx += r.non2xx;
        process.stderr.write(`  round ${round + 1}/${o.rounds} ${n} replica${n === 1 ? ' ' : 's'} ${r.perSecond.toFixed(0).padStart(6)} deliveries/s\n`);
      }
    }
    report(o, sqlite, postgres, { one: median(one), three: median(three), non2xx });
  } finally {
    await Promise.all(hubs.map((h) => h.child.stop()));
    await api.close();
    await redis.stop();
    pgServer.stop();
    dir.remove();
  }
}

type Costs = Awaited<ReturnType<typeof perOperation>>;

function report(o: ReturnType<typeof options>, sqlite: Costs, postgres: Costs, tp: { one: number; three: number; non2xx: number }): void {
  const rows = (['toolCall', 'webhook', 'queuedWrite'] as const).map((k) => ({
    op: k,
    sqliteCpuMs: round(sqlite[k].cpuMs, 3),
    pgCpuMs: round(postgres[k].cpuMs, 3),
    cpuRatio: round(postgres[k].cpuMs / sqlite[k].cpuMs, 2),
    sqliteStatements: round(sqlite[k].queries, 1),
    pgRoundTrips: round(postgres[k].queries, 1),
  }));
  const result = { cpus: availableParallelism(), options: o, perOperation: rows, webhookThroughput: { ...tp, ratio: round(tp.three / tp.one, 2) } };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const name = { toolCall: 'tool call', webhook: 'webhook', queuedWrite: 'queued write' };
  process.stdout.write(
    [
      `Store cost — node ${process.version}, ${result.cpus} CPUs, loopback; ${o.ops} ops each, 8 at a time, idle work subtracted`,
      '',
      'per operation        hub CPU ms: SQLite  PostgreSQL  PG÷SQLite   store queries: SQLite stmts  PG round trips',
      ...rows.map(
        (r) =>
          `  ${name[r.op].padEnd(18)} ${r.sqliteCpuMs.toFixed(3).padStart(15)} ${r.pgCpuMs.toFixed(3).padStart(11)} ${r.cpuRatio.toFixed(2).padStart(9)}×  ${r.sqliteStatements.toFixed(1).padStart(27)} ${r.pgRoundTrips.toFixed(1).padStart(15)}`,
      ),
      '  (a webhook: accepted and processed; a queued write: enqueued, paced, sent, done. PostgreSQL and Redis CPU not included.)',
      '',
      `webhook acceptance, ${o.connections} connections, median of ${o.rounds} rounds × ${o.seconds} s:`,
      `  one replica    ${tp.one.toFixed(0).padStart(7)} /s`,
      `  three replicas ${tp.three.toFixed(0).padStart(7)} /s   ratio ${result.webhookThroughput.ratio.toFixed(2)}×`,
      `  non-2xx or errors: ${tp.non2xx}`,
      `  ${result.cpus} cores shared by the replicas, PostgreSQL, Redis and the load generator: this caps the gain;`,
      '  on separate machines each replica brings its own cores and PostgreSQL becomes the shared limit.',
      '',
    ].join('\n'),
  );
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

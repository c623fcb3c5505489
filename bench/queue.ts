/**
 * The outbox under saturation and its own cost, side by side in one run, through real MCP clients
 * over HTTP to an in-process hub whose custom integration is the token-bucket API on loopback:
 *
 * 1. Saturation: `--writes` (400) writes from `--clients` (10) clients at once against an API that
 *    is a bucket of `--rate` (20/s) with a burst of `--burst` (5), the hub declaring the same
 *    limits. Achieved ÷ permitted rate (ideal time: the burst at once, the rest at the rate), the
 *    API's 429 count, and every write applied once (by idempotency key). The ratio is timed from
 *    the moment the hub queued the first write to the last answer: the hub cannot send before it
 *    has a job, and before that the 400 calls are being made by clients that share this process's
 *    event loop and CPU with the hub (≈0.5 s on 2 cores, a cost a hub with remote clients does not
 *    pay). The end-to-end time from the calls is printed beside it, split into intake, pacing and tail.
 * 2. Overhead: the same writes against an unlimited API, queued (the outbox) ÷ bypassed (the same
 *    request template marked `readOnly`, which the hub calls directly). Rounds alternate (ABBA).
 *
 *   npm run bench:queue -- [--writes 400] [--clients 10] [--rate 20] [--burst 5] [--overhead-writes 400]
 *     [--overhead-rounds 2] [--only saturation|overhead] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { configSchema } from '../src/config/schema.js';
import { bindHttp } from '../src/http/listener.js';
import { Hub } from '../src/hub.js';
import { silentLogger } from '../src/observability/logger.js';
import { startBucketApi } from '../test/fixtures/bucket-api.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '400' },
    clients: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    burst: { type: 'string', default: '5' },
    'overhead-writes': { type: 'string', default: '400' },
    /** ABBA sequences of the overhead part: more of them, less of a shared machine's noise. */
    'overhead-rounds': { type: 'string', default: '2' },
    /** Runs one part alone (profiling): `saturation` or `overhead`. */
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const writes = Number(values.writes);
const clientCount = Number(values.clients);
const rate = Number(values.rate);
const burst = Number(values.burst);
const overheadWrites = Number(values['overhead-writes']);
const overheadRounds = Number(values['overhead-rounds']);

const input = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };

interface RunningHub {
  hub: Hub;
  url: string;
  /** One user per client, as 10 people's agents would be (a hub bounds streams per identity). */
  tokens: string[];
  stop(): Promise<void>;
}

async function startHub(apiBaseUrl: string, rateLimit: unknown): Promise<RunningHub> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-queue-'));
  const config = configSchema.parse({
    dataDir: dir,
    // Every call of a burst holds its HTTP request open while it waits: more than the default 512 at once.
    server: { port: 0, limits: { maxConnections: 8192 } },
    outbox: { waitMs: 600_000 },
    integrations: {
      notes: {
        type: 'custom',
        apiBaseUrl,
        auth: { type: 'apiKey', header: 'x-api-key', value: 'bench' },
        idempotencyHeader: 'Idempotency-Key',
        ...(rateLimit ? { rateLimit } : {}),
        tools: {
          create: { description: 'Creates a note', method: 'POST', path: '/notes', input },
          // The same request, called directly: `readOnly` keeps it out of the outbox.
          create_direct: { description: 'Creates a note, bypassing the outbox', method: 'POST', path: '/notes', readOnly: true, input },
        },
      },
    },
  });
  const listener = await bindHttp(config.server, { host: '127.0.0.1' });
  const hub = new Hub({ config, log: silentLogger(), listener });
  const tokens: string[] = [];
  for (let i = 0; i < clientCount; i++) tokens.push((await hub.tokens.create({ user: `bench${i}` })).token);
  await hub.start();
  await hub.ready();
  const l = await hub.listen();
  return {
    hub,
    url: l.url,
    tokens,
    stop: async () => {
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function clients(h: RunningHub): Promise<Client[]> {
  return Promise.all(
    h.tokens.map(async (token) => {
      const c = new Client({ name: 'bench-queue', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      return c;
    }),
  );
}

/**
 * `n` writes spread over the clients, all at once; seconds taken, this process's CPU time (clients,
 * hub and API alike: the same for both paths but the outbox's share) and the results' error count.
 */
async function burstOf(cs: Client[], tool: string, n: number, tag: string): Promise<{ started: number; seconds: number; cpuMs: number; errors: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => cs[i % cs.length]!.callTool({ name: tool, arguments: { text: `${tag}-${i}` } }, { timeout: 600_000 })),
  );
  const used = process.cpuUsage(cpu);
  return { started, seconds: (performance.now() - started) / 1000, cpuMs: (used.user + used.system) / 1000, errors: results.filter((r) => r.isError).length };
}

async function saturation() {
  // Traced: the arrival times split the run into intake (the calls to the first request the API
  // sees), pacing (first to last request, what the ideal describes) and tail (the last answer's way back).
  const api = await startBucketApi({ perSecond: rate, burst, trace: true });
  const hub = await startHub(api.url, { perApp: { perSecond: rate, burst } });
  const cs = await clients(hub);
  try {
    const wallStart = Date.now();
    const r = await burstOf(cs, 'notes__create', writes, 'sat');
    const wallEnd = Date.now();
    // When the hub queued the first and the last write (its clock is the wall clock): how much of the
    // intake is the calls reaching the hub, how much the hub's way from a queued job to the API.
    const queuedAt = hub.hub.db.prepare('SELECT MIN(created_at) AS first, MAX(created_at) AS last FROM outbox_jobs').get() as { first: number; last: number };
    const idealSeconds = Math.max(0, writes - burst) / rate;
    const appliedTwice = [...api.appliedByKey.values()].filter((n) => n > 1).length;
    const first = Math.min(...api.arrivals.map((a) => a.start));
    const last = Math.max(...api.arrivals.map((a) => a.start));
    return {
      writes,
      seconds: r.seconds,
      intakeSeconds: (first - r.started) / 1000,
      firstQueuedSeconds: (queuedAt.first - wallStart) / 1000,
      lastQueuedSeconds: (queuedAt.last - wallStart) / 1000,
      pacedSeconds: (last - first) / 1000,
      tailSeconds: r.seconds - (last - r.started) / 1000,
      idealSeconds,
      fromFirstQueuedSeconds: (wallEnd - queuedAt.first) / 1000,
      achievedOverPermitted: idealSeconds / ((wallEnd - queuedAt.first) / 1000),
      endToEndOverPermitted: idealSeconds / r.seconds,
      overIdealPct: ((wallEnd - queuedAt.first) / 1000 / idealSeconds - 1) * 100,
      tooMany: api.stats.tooMany,
      applied: api.appliedByKey.size,
      appliedTwice,
      errors: r.errors,
    };
  } finally {
    await Promise.all(cs.map((c) => c.close()));
    await hub.stop();
    await api.close();
  }
}

async function overhead() {
  const api = await startBucketApi({ perSecond: 1_000_000, burst: 1_000_000 });
  const hub = await startHub(api.url, undefined);
  const cs = await clients(hub);
  try {
    // Warm both paths (connections, statements) before timing.
    await burstOf(cs, 'notes__create', 50, 'warm-q');
    await burstOf(cs, 'notes__create_direct', 50, 'warm-d');
    const queued: number[] = [];
    const direct: number[] = [];
    const cpu = { q: 0, d: 0 };
    const order = Array.from({ length: overheadRounds }, () => ['q', 'd', 'd', 'q'] as const).flat();
    for (const [i, mode] of order.entries()) {
      const r = await burstOf(cs, mode === 'q' ? 'notes__create' : 'notes__create_direct', overheadWrites, `o${i}`);
      (mode === 'q' ? queued : direct).push(overheadWrites / r.seconds);
      cpu[mode] += r.cpuMs;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const q = mean(queued);
    const d = mean(direct);
    const perWrite = (ms: number) => ms / (overheadWrites * 2 * overheadRounds);
    return {
      writes: overheadWrites,
      rounds: overheadRounds,
      queuedPerSecond: q,
      bypassedPerSecond: d,
      ratio: q / d,
      queuedCpuMsPerWrite: perWrite(cpu.q),
      bypassedCpuMsPerWrite: perWrite(cpu.d),
    };
  } finally {
    await Promise.all(cs.map((c) => c.close()));
    await hub.stop();
    await api.close();
  }
}

const sat = values.only === 'overhead' ? undefined : await saturation();
const over = values.only === 'saturation' ? undefined : await overhead();
if (values.json) {
  console.log(JSON.stringify({ saturation: sat, overhead: over }, null, 2));
} else {
  if (sat) {
    console.log(`outbox under saturation: ${sat.writes} writes, ${clientCount} clients, API bucket ${rate}/s burst ${burst}`);
    console.log(
      `  ${sat.fromFirstQueuedSeconds.toFixed(2)} s from the first write queued (ideal ${sat.idealSeconds.toFixed(2)} s, +${sat.overIdealPct.toFixed(1)} %)  achieved ÷ permitted ${sat.achievedOverPermitted.toFixed(3)}  429s ${sat.tooMany}  applied ${sat.applied} (twice: ${sat.appliedTwice})  errors ${sat.errors}`,
    );
    console.log(`  end to end from the calls: ${sat.seconds.toFixed(2)} s, achieved ÷ permitted ${sat.endToEndOverPermitted.toFixed(3)}`);
    console.log(
      `  intake ${sat.intakeSeconds.toFixed(2)} s (calls → first request)  paced ${sat.pacedSeconds.toFixed(2)} s (first → last request)  tail ${sat.tailSeconds.toFixed(2)} s (last request → last answer)`,
    );
    console.log(`  the hub queued the first write at ${sat.firstQueuedSeconds.toFixed(2)} s, the last at ${sat.lastQueuedSeconds.toFixed(2)} s`);
  }
  if (over) {
    console.log(`outbox overhead, unlimited API, ${over.writes} writes per round (ABBA × ${over.rounds}):`);
    console.log(`  queued ${over.queuedPerSecond.toFixed(0)}/s  bypassed ${over.bypassedPerSecond.toFixed(0)}/s  queued ÷ bypassed ${over.ratio.toFixed(3)}`);
    console.log(
      `  CPU per write (this process: clients, hub, API) queued ${over.queuedCpuMsPerWrite.toFixed(2)} ms  bypassed ${over.bypassedCpuMsPerWrite.toFixed(2)} ms`,
    );
  }
}

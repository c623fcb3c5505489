/**
 * Webhook ingestion through the hub's route, measured side by side in one run on loopback: signed
 * Standard Webhooks deliveries, verified, deduplicated and durably stored (WAL, synchronous=NORMAL:
 * a 200 survives SIGKILL), by a `switchboard serve` with group commit (the default) and by one
 * that commits each delivery alone (`webhooks.groupCommit: false`). Load comes from autocannon in
 * this process; phases alternate (ABBA) so background load hits both sides of the ratio.
 *
 * Then: acknowledgement latency at a fixed 1,000 deliveries/s (group commit), and the bytes each
 * retained delivery id costs, measured on 1 M ids in the hub's own schema, with the 7-day size at
 * 1,000/s computed from it.
 *
 *   npm run bench:webhooks -- [--seconds 5] [--rounds 2] [--connections 64] [--rate-seconds 10] [--ids 1000000] [--json]
 */
import { createHmac, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { systemClock } from '../src/clock.js';
import { openDb } from '../src/store/db.js';
import { processCpuMs } from './cpu.js';
import { startHubProcess, tmpDir } from './processes.js';
import { median, positiveArg } from './stats.js';

const SECRET_KEY = randomBytes(32);
const SECRET = `whsec_${SECRET_KEY.toString('base64')}`;

interface Options {
  seconds: number;
  rounds: number;
  connections: number;
  rateSeconds: number;
  ids: number;
  json: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      'rate-seconds': { type: 'string', default: '10' },
      ids: { type: 'string', default: '1000000' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = positiveArg;
  return {
    seconds: num('seconds', values.seconds, 120),
    rounds: Math.round(num('rounds', values.rounds, 20)),
    connections: Math.round(num('connections', values.connections, 1000)),
    rateSeconds: num('rate-seconds', values['rate-seconds'], 120),
    ids: Math.round(num('ids', values.ids, 10_000_000)),
    json: values.json,
  };
}

/** A hub with one custom integration that takes Standard Webhooks. */
function hubConfig(groupCommit: boolean): Record<string, unknown> {
  return {
    logLevel: 'warn',
    webhooks: { groupCommit },
    integrations: {
      bench: {
        type: 'custom',
        title: 'Bench',
        apiBaseUrl: 'https://bench.invalid',
        // Linked through OAuth (never used here): one without linked accounts takes no webhooks.
        oauth: { authorizeUrl: 'https://bench.invalid/authorize', tokenUrl: 'https://bench.invalid/token', clientId: 'bench', clientSecret: 'bench' },
        webhooks: { scheme: 'standard-webhooks', secrets: [SECRET] },
        tools: { ping: { description: 'unused', method: 'GET', path: '/ping', readOnly: true } },
      },
    },
  };
}

let serial = 0;
const run = randomBytes(4).toString('hex');

/** One signed delivery, new each time (signing happens here, in the load generator, for both sides alike). */
function delivery(): { headers: Record<string, string>; body: string } {
  const id = `msg_${run}_${(serial++).toString(36)}`;
  const ts = Math.floor(Date.now() / 1000).toString();
  const body = JSON.stringify({ type: 'ticket.updated', account_id: 'acct_1', data: { id: `tkt_${serial}`, status: 'open' } });
  const sig = createHmac('sha256', SECRET_KEY).update(`${id}.${ts}.${body}`).digest('base64');
  return { headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` }, body };
}

interface Phase {
  perSecond: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  /** The hub process's CPU per request (user + system, from /proc). */
  hubCpuMs: number;
}

async function load(url: string, hubPid: number | undefined, o: { connections: number; seconds: number; overallRate?: number; get?: boolean }): Promise<Phase> {
  const before = hubPid === undefined ? undefined : processCpuMs(hubPid);
  const r = await autocannon({
    url,
    method: o.get ? 'GET' : 'POST',
    connections: o.connections,
    duration: o.seconds,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    ...(o.get ? {} : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, ...delivery() }) }] }),
  });
  const after = hubPid === undefined ? undefined : processCpuMs(hubPid);
  const hubCpuMs = before === undefined || after === undefined ? Number.NaN : (after - before) / Math.max(1, r.requests.total);
  return { perSecond: r.requests.average, non2xx: r.non2xx, errors: r.errors, p50: r.latency.p50, p99: r.latency.p99, hubCpuMs };
}

/** Bytes per retained delivery id: 1 M ids in the hub's own table, file size before and after. */
function bytesPerId(n: number): number {
  const dir = tmpDir('switchboard-bench-ids-');
  try {
    const file = join(dir.path, 'ids.db');
    const db = openDb({ file, clock: systemClock });
    const size = () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(file).size;
    };
    const before = size();
    const insert = db.prepare('INSERT INTO webhook_deliveries (integration, endpoint, delivery_id, event_id, received_at) VALUES (?, ?, ?, ?, ?)');
    const now = Date.now();
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++)
        insert.run('github', '', `${randomBytes(8).toString('hex')}-${i.toString(36)}`, `evt_${i.toString(36).padStart(9, '0')}`, now + i);
    });
    for (let i = 0; i < n; i += 50_000) batch(i, Math.min(n, i + 50_000));
    const after = size();
    db.close();
    return (after - before) / n;
  } finally {
    dir.remove();
  }
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  process.stderr.write('  starting two hubs (group commit, one commit per delivery)\n');
  const hubs = { group: await startHubProcess({ config: hubConfig(true) }), single: await startHubProcess({ config: hubConfig(false) }) };
  const urlOf = (h: { url: string }) => new URL('/webhooks/bench', h.url).href;
  const pidOf = (h: { child: { process: { pid?: number | undefined } } }) => h.child.process.pid;
  const phases: Record<'group' | 'single', Phase[]> = { group: [], single: [] };
  let rate: Phase;
  let floor: Phase;
  try {
    for (const k of ['group', 'single'] as const) await load(urlOf(hubs[k]), undefined, { connections: o.connections, seconds: 1 }); // warm-up
    for (let round = 0; round < o.rounds; round++) {
      for (const k of round % 2 === 0 ? (['group', 'single'] as const) : (['single', 'group'] as const)) {
        const p = await load(urlOf(hubs[k]), pidOf(hubs[k]), { connections: o.connections, seconds: o.seconds });
        phases[k].push(p);
        process.stderr.write(
          `  round ${round + 1}/${o.rounds} ${k.padEnd(6)} ${p.perSecond.toFixed(0).padStart(6)} deliveries/s${p.non2xx ? `, ${p.non2xx} non-2xx` : ''}\n`,
        );
      }
    }
    // A few connections: autocannon paces each one, and many of them burst together at a low rate.
    process.stderr.write(`  fixed rate: 1,000 deliveries/s for ${o.rateSeconds} s (group commit), then GET /healthz at the same rate\n`);
    rate = await load(urlOf(hubs.group), pidOf(hubs.group), { connections: 4, seconds: o.rateSeconds, overallRate: 1000 });
    // The same hub's /healthz at the same rate: the latency floor of this machine and load generator.
    floor = await load(new URL('/healthz', hubs.group.url).href, undefined, { connections: 4, seconds: o.rateSeconds, overallRate: 1000, get: true });
  } finally {
    await Promise.all([hubs.group.stop(), hubs.single.stop()]);
  }
  process.stderr.write(`  ${o.ids.toLocaleString('en')} delivery ids into the dedupe table\n`);
  const perId = bytesPerId(o.ids);
  const weekIds = 1000 * 86_400 * 7;
  const group = median(phases.group.map((p) => p.perSecond));
  const single = median(phases.single.map((p) => p.perSecond));
  const result = {
    cpus: availableParallelism(),
    options: o,
    throughput: {
      groupCommit: group,
      onePerRequest: single,
      ratio: Number((group / single).toFixed(2)),
      target: 5000,
      hubCpuMsPerDelivery: Number(median(phases.group.map((p) => p.hubCpuMs)).toFixed(3)),
    },
    failures: { non2xx: [...phases.group, ...phases.single].reduce((n, p) => n + p.non2xx + p.errors, 0) },
    at1000: {
      achieved: rate.perSecond,
      p50Ms: rate.p50,
      p99Ms: rate.p99,
      non2xx: rate.non2xx + rate.errors,
      targetP99Ms: 10,
      healthzP50Ms: floor.p50,
      healthzP99Ms: floor.p99,
    },
    retention: { bytesPerId: Number(perId.toFixed(1)), sevenDaysAt1000PerSecondGiB: Number(((perId * weekIds) / 2 ** 30).toFixed(1)) },
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISS');
  process.stdout.write(
    [
      `Webhook ingestion through POST /webhooks/:integration — node ${process.version}, ${result.cpus} CPUs, loopback, autocannon in this process`,
      `signed Standard Webhooks, verified, deduplicated, stored durably (WAL, synchronous=NORMAL); ${o.connections} connections, ${o.rounds} rounds × ${o.seconds} s, ABBA`,
      '',
      'deliveries/s (median of rounds)',
      `  group commit            ${group.toFixed(0).padStart(7)}   target ≥ 5,000  ${mark(group >= 5000)}`,
      `  one commit per delivery ${single.toFixed(0).padStart(7)}`,
      `  ratio                   ${result.throughput.ratio.toFixed(2).padStart(7)}×`,
      `  hub CPU per delivery    ${result.throughput.hubCpuMsPerDelivery.toFixed(3).padStart(7)} ms (group commit; the hub serves on one thread)`,
      `  non-2xx or errors: ${result.failures.non2xx}`,
      '',
      `acknowledgement latency at a fixed 1,000 deliveries/s (achieved ${rate.perSecond.toFixed(0)}/s): p50 ${rate.p50} ms, p99 ${rate.p99} ms   target p99 ≤ 10 ms  ${mark(rate.p99 <= 10)}`,
      `  the same hub's GET /healthz at 1,000/s, side by side (this machine's floor): p50 ${floor.p50} ms, p99 ${floor.p99} ms`,
      '',
      `retained delivery ids: ${result.retention.bytesPerId} bytes each (measured on ${o.ids.toLocaleString('en')} ids);` +
        ` 7 days at 1,000/s = ${weekIds.toLocaleString('en')} ids ≈ ${result.retention.sevenDaysAt1000PerSecondGiB} GiB`,
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

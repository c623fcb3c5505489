/**
 * The inbox's intake, measured side by side in one run on a real SQLite file (WAL,
 * synchronous=NORMAL, as the hub opens it): deduplicated, durably stored deliveries per second
 * with group commit (the accepts of one tick share a transaction) against one transaction per
 * accept, and the acknowledgement latency of each. Rounds alternate the two (ABBA) so background
 * load on the machine hits both sides of the ratio. No HTTP here: the route's own figures come
 * with the route.
 *
 *   npm run bench:webhooks -- [--seconds 2] [--rounds 2] [--concurrency 64] [--duplicates 0.1] [--json]
 *
 * `concurrency` deliveries are in flight at once (as many requests would be); `duplicates` is the
 * share of them that are redeliveries of an earlier one, answered from the dedupe table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock.js';
import { openDb } from '../src/store/db.js';
import { SqliteInbox } from '../src/webhooks/inbox/sqlite.js';
import { percentile } from './stats.js';

interface Options {
  seconds: number;
  rounds: number;
  concurrency: number;
  duplicates: number;
  json: boolean;
}

type Mode = 'group' | 'single';

interface Phase {
  mode: Mode;
  accepted: number;
  stored: number;
  seconds: number;
  latenciesMs: number[];
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '64' },
      duplicates: { type: 'string', default: '0.1' },
      json: { type: 'boolean', default: false },
    },
  });
  return {
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    concurrency: Number(values.concurrency),
    duplicates: Number(values.duplicates),
    json: values.json === true,
  };
}

/** A Standard Webhooks-sized body: about 400 bytes of JSON. */
function payload(n: number): string {
  return JSON.stringify({
    type: 'ticket.updated',
    timestamp: new Date(1_767_225_600_000 + n).toISOString(),
    data: { id: `tkt_${n}`, title: `Ticket ${n}`, status: 'open', assignee: 'alice@example.test', tags: ['billing', 'priority'], body: 'x'.repeat(200) },
  });
}

let sequence = 0;

/** Keeps `concurrency` accepts in flight for `seconds`; each resolved one starts the next. */
async function phase(mode: Mode, o: Options, dir: string): Promise<Phase> {
  const db = openDb({ file: join(dir, `${mode}-${sequence++}.db`), clock: systemClock });
  const inbox = new SqliteInbox(db, systemClock, { groupCommit: mode === 'group' });
  const connection = { id: 'con_bench', tenant: 'default', user: 'bench' };
  const latenciesMs: number[] = [];
  let accepted = 0;
  let stored = 0;
  let next = 0;
  const start = performance.now();
  const end = start + o.seconds * 1000;
  const one = async (): Promise<void> => {
    while (performance.now() < end) {
      const n = next > 0 && Math.random() < o.duplicates ? Math.floor(Math.random() * next) : next++;
      const t0 = performance.now();
      const r = await inbox.accept({ integration: 'acme', deliveryId: `msg_${n}`, type: 'ticket.updated', connection, payload: payload(n) });
      latenciesMs.push(performance.now() - t0);
      accepted++;
      if (r.outcome === 'stored') stored++;
      // One transaction per accept resolves at once: yield so the other "requests" take turns.
      if (mode === 'single') await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, one));
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return { mode, accepted, stored, seconds, latenciesMs };
}

function summary(phases: Phase[], mode: Mode) {
  const mine = phases.filter((p) => p.mode === mode);
  const accepted = mine.reduce((s, p) => s + p.accepted, 0);
  const seconds = mine.reduce((s, p) => s + p.seconds, 0);
  const lat = mine.flatMap((p) => p.latenciesMs);
  return {
    mode,
    perSecond: Math.round(accepted / seconds),
    stored: mine.reduce((s, p) => s + p.stored, 0),
    accepted,
    p50Ms: Number(percentile(lat, 50).toFixed(3)),
    p99Ms: Number(percentile(lat, 99).toFixed(3)),
  };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-inbox-'));
  const phases: Phase[] = [];
  try {
    await phase('group', { ...o, seconds: 0.3 }, dir); // warm-up: JIT and the file system
    for (let round = 0; round < o.rounds; round++) {
      const order: Mode[] = round % 2 === 0 ? ['group', 'single'] : ['single', 'group'];
      for (const mode of order) phases.push(await phase(mode, o, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const group = summary(phases, 'group');
  const single = summary(phases, 'single');
  const ratio = Number((group.perSecond / single.perSecond).toFixed(2));
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ options: o, cpus: availableParallelism(), group, single, ratio }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `inbox intake on SQLite (WAL, synchronous=NORMAL), ${o.concurrency} in flight, ${Math.round(o.duplicates * 100)}% redeliveries, ` +
      `${o.rounds} × ${o.seconds} s per mode, ${availableParallelism()} CPUs\n\n`,
  );
  const rows = [
    ['mode', 'accepts/s', 'stored', 'ack p50 ms', 'ack p99 ms'],
    ...[group, single].map((s) => [
      s.mode === 'group' ? 'group commit (one tx per tick)' : 'one tx per accept',
      String(s.perSecond),
      String(s.stored),
      String(s.p50Ms),
      String(s.p99Ms),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`);
  process.stdout.write(`\ngroup commit / one tx per accept: ${ratio}×\n`);
}

await main();

/**
 * Proxy overhead of the hub, measured side by side in one run on loopback:
 *   tools/call throughput and latency through the hub vs. straight to the same downstream server,
 *   for 2025-era session clients and 2026-07-28 clients, and the stdio face's cold start.
 *
 * The fixture server and the hub each run in their own process, started the way users start them;
 * the load comes from this process. `--hub-cpu-prof DIR` writes the hub's V8 profile, which
 * `node dist/bench/cpuprofile.js` summarises; `node dist/bench/startup.js` breaks the cold start down. Direct and hub phases alternate (ABBA across rounds) so that
 * background load on the machine hits both sides of each ratio.
 *
 *   npm run bench:proxy -- [--clients 10] [--seconds 3] [--rounds 4] [--warmup 2]
 *                          [--cold-runs 10] [--no-load] [--no-cold] [--eras legacy,modern]
 *                          [--hub-cpu-prof DIR] [--hub-cli dist/servers/cli.js of another build] [--json]
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measureColdStarts, type ColdStartResult } from './cold-start.js';
import { cpuSampler } from './cpu.js';
import { connectPool, runPhase, type Era, type Pool, type TargetKind } from './load.js';
import { startFixtureHttp, startHubProcess } from './processes.js';
import { coldStartReport, summarise, throughputReport, type EraRun, type EraSummary } from './report.js';

const SOURCE = 'fx';

interface Options {
  clients: number;
  seconds: number;
  rounds: number;
  warmup: number;
  coldRuns: number;
  load: boolean;
  cold: boolean;
  hubCpuProf: string | undefined;
  hubCli: string | undefined;
  json: boolean;
  eras: Era[];
  placements: Placement[];
}

/**
 * Where the processes run. `shared`: all three on every CPU, competing (what a laptop sees).
 * `pinned`: the hub on a CPU of its own, the load generator and the fixture on the other — the
 * hub's cost then shows as the extra hop it is, not as CPU taken from the peers it is measured against.
 */
type Placement = 'shared' | 'pinned';

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '4' },
      warmup: { type: 'string', default: '2' },
      'cold-runs': { type: 'string', default: '10' },
      'no-load': { type: 'boolean', default: false },
      'no-cold': { type: 'boolean', default: false },
      'hub-cpu-prof': { type: 'string' },
      'hub-cli': { type: 'string' },
      json: { type: 'boolean', default: false },
      eras: { type: 'string', default: 'legacy,modern' },
      placement: { type: 'string', default: 'shared,pinned' },
    },
    strict: true,
  });
  const num = (name: string, v: string, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name} ${v}: expected a number in (0, ${max}]`);
    return n;
  };
  return {
    clients: Math.round(num('clients', values.clients, 200)),
    seconds: num('seconds', values.seconds, 120),
    rounds: Math.round(num('rounds', values.rounds, 50)),
    warmup: num('warmup', values.warmup, 60),
    coldRuns: Math.round(num('cold-runs', values['cold-runs'], 100)),
    load: !values['no-load'],
    cold: !values['no-cold'],
    hubCpuProf: values['hub-cpu-prof'] === undefined ? undefined : resolve(values['hub-cpu-prof']),
    hubCli: values['hub-cli'] === undefined ? undefined : resolve(values['hub-cli']),
    json: values.json,
    eras: values.eras.split(',').map((e) => {
      if (e !== 'legacy' && e !== 'modern') throw new Error(`--eras ${values.eras}: expected legacy and/or modern`);
      return e;
    }),
    placements: values.placement.split(',').map((p) => {
      if (p !== 'shared' && p !== 'pinned') throw new Error(`--placement ${values.placement}: expected shared and/or pinned`);
      return p;
    }),
  };
}

/** Sets the CPU affinity of every thread of a process (util-linux taskset). */
function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

async function measureProxy(o: Options, placement: Placement): Promise<EraSummary[]> {
  const fixture = await startFixtureHttp();
  const cleanups: Array<() => Promise<void>> = [() => fixture.child.stop()];
  try {
    const hub = await startHubProcess({
      downstreamUrl: fixture.url,
      sourceName: SOURCE,
      ...(o.hubCli ? { cli: o.hubCli } : {}),
      ...(o.hubCpuProf ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', o.hubCpuProf] } : {}),
    });
    cleanups.unshift(() => hub.stop());
    if (placement === 'pinned') {
      pin(hub.child.process.pid!, '1');
      pin(fixture.child.process.pid!, '0');
      pin(process.pid, '0');
      // os.cpus(), not availableParallelism(): the latter follows this process's own (now narrowed) affinity.
      cleanups.push(async () => pin(process.pid, `0-${cpus().length - 1}`));
    }
    const targets = {
      direct: { kind: 'direct', url: fixture.url, tool: 'echo', headers: {} },
      hub: { kind: 'hub', url: hub.url, tool: `${SOURCE}__echo`, headers: { authorization: `Bearer ${hub.token}` } },
    } as const;
    const eras = o.eras;
    const pools = new Map<string, Pool>();
    for (const era of eras) {
      for (const kind of ['direct', 'hub'] as const) {
        const pool = await connectPool(era, targets[kind], o.clients);
        cleanups.unshift(() => pool.close());
        pools.set(`${era}/${kind}`, pool);
      }
    }
    const pool = (era: Era, kind: TargetKind) => pools.get(`${era}/${kind}`)!;
    const cpu = cpuSampler({ hub: hub.child.process.pid, fixture: fixture.child.process.pid });

    // One unmeasured pass over every pool: JIT warm-up, keep-alive sockets opened, caches filled.
    for (const era of eras) for (const kind of ['direct', 'hub'] as const) await runPhase(pool(era, kind), { warmupMs: o.warmup * 1000, durationMs: 0 });

    const runs: Record<Era, EraRun> = { legacy: { era: 'legacy', direct: [], hub: [] }, modern: { era: 'modern', direct: [], hub: [] } };
    for (let round = 0; round < o.rounds; round++) {
      // ABBA: the target that goes first alternates, and so does the era, so drift cancels out.
      const order: TargetKind[] = round % 2 === 0 ? ['direct', 'hub'] : ['hub', 'direct'];
      for (const era of round % 2 === 0 ? eras : [...eras].reverse()) {
        for (const kind of order) {
          const r = await runPhase(pool(era, kind), { warmupMs: 250, durationMs: o.seconds * 1000, cpu });
          runs[era][kind].push(r);
          process.stderr.write(`  round ${round + 1}/${o.rounds} ${era.padEnd(6)} ${kind.padEnd(6)} ${(r.calls / r.seconds).toFixed(0).padStart(6)} req/s${r.errors ? `, ${r.errors} errors` : ''}\n`);
        }
      }
    }
    return eras.map((era) => summarise(runs[era]));
  } finally {
    for (const c of cleanups) await c().catch(() => {});
  }
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const header = [
    `Switchboard proxy benchmark — node ${process.version}, ${availableParallelism()} CPUs, loopback only`,
    `load: ${o.clients} concurrent SDK clients per target on keep-alive connections, echo{text}; ${o.rounds} rounds × ${o.seconds} s per phase after ${o.warmup} s warm-up, direct and hub phases interleaved`,
    `note: the load generator (this process), the hub and the fixture server share these ${availableParallelism()} CPUs: req/s understate a dedicated host,`,
    '      and a saturated ratio is bounded by CPU per call (the CPU table), not by the extra hop\'s latency',
  ];
  process.stdout.write(`${header.join('\n')}\n\n`);
  let summaries: EraSummary[] = [];
  let cold: ColdStartResult[] = [];
  const pinnable = availableParallelism() >= 2 && hasTaskset();
  if (o.load) {
    for (const placement of o.placements) {
      if (placement === 'pinned' && !pinnable) {
        process.stdout.write('pinned placement skipped: needs 2 CPUs and taskset\n\n');
        continue;
      }
      const title =
        placement === 'shared'
          ? 'placement: shared — load generator, hub and fixture compete for every CPU'
          : 'placement: pinned — the hub on CPU 1; the load generator and the fixture on CPU 0 (the hub has a core of its own)';
      process.stderr.write(`  ${title}\n`);
      const s = await measureProxy(o, placement);
      summaries.push(...s);
      process.stdout.write(`${title}\n${throughputReport(s)}\n\n`);
    }
  }
  if (o.cold) {
    process.stderr.write(`  stdio cold starts: ${o.coldRuns} × 3 processes\n`);
    cold = await measureColdStarts(o.coldRuns);
    process.stdout.write(`${coldStartReport(cold, 'hub stdio, fresh data dir')}\n`);
  }
  if (o.json) {
    const strip = cold.map(({ samplesMs, ...rest }) => ({ ...rest, samplesMs: samplesMs.map((s) => Math.round(s)) }));
    process.stdout.write(`\n${JSON.stringify({ throughput: summaries, coldStart: strip })}\n`);
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:proxy failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

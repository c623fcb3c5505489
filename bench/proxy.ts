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
 * Another table puts the fixture behind a bare relay (bench/relay.ts: node:http passing bytes), the
 * floor of any HTTP hop's CPU and latency on the machine, shown beside the hub's and not judged. A
 * last one puts the fixture behind both bridges as a stdio server: the hub (`mcpServers` with a
 * command) against `mcp-proxy` from npm (a devDependency), each spawning its own copy.
 *
 *   npm run bench:proxy -- [--clients 10] [--seconds 3] [--rounds 4] [--warmup 2]
 *                          [--cold-runs 10] [--no-load] [--no-bridge] [--no-relay] [--no-cold] [--eras legacy,modern]
 *                          [--placement shared,pinned]
 *                          [--hub-cpu-prof DIR] [--hub-cli dist/servers/cli.js of another build] [--json]
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measureColdStarts, type ColdStartResult } from './cold-start.js';
import { cpuSampler } from './cpu.js';
import { connectPool, runPhase, type Era, type Pool, type Target } from './load.js';
import { childPids, FIXTURE_STDIO, startFixtureHttp, startHubProcess, startMcpProxy, startRelay } from './processes.js';
import { positiveArg } from './stats.js';
import { coldStartReport, summarise, throughputReport, type Baseline, type EraRun, type EraSummary, type InTheMiddle } from './report.js';

const SOURCE = 'fx';

interface Options {
  clients: number;
  seconds: number;
  rounds: number;
  warmup: number;
  coldRuns: number;
  load: boolean;
  /** The row with the fixture over stdio, bridged by the hub and by mcp-proxy. */
  bridge: boolean;
  /** The row with the fixture over HTTP behind a bare relay: the floor of one more hop. */
  relay: boolean;
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
      'no-bridge': { type: 'boolean', default: false },
      'no-relay': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = positiveArg;
  return {
    clients: Math.round(num('clients', values.clients, 200)),
    seconds: num('seconds', values.seconds, 120),
    rounds: Math.round(num('rounds', values.rounds, 50)),
    warmup: num('warmup', values.warmup, 60),
    coldRuns: Math.round(num('cold-runs', values['cold-runs'], 100)),
    load: !values['no-load'],
    bridge: !values['no-bridge'],
    relay: !values['no-relay'],
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

/** Two targets measured side by side: the hub (or the bare relay) and what it is compared with, and whose CPU each phase costs. */
interface Pair {
  baseline: Baseline;
  proxy: InTheMiddle;
  targets: Record<'direct' | 'hub', Target>;
  /** Processes whose CPU a phase of each target spends (the load generator is always counted). */
  pids: Record<'direct' | 'hub', Record<string, number | undefined>>;
  /** Pins the servers for the `pinned` placement: the hub side's proxy on CPU 1, the rest on CPU 0. */
  pin: () => void;
  cleanups: Array<() => Promise<void>>;
}

const hubCpuProf = (o: Options) => (o.hubCpuProf ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', o.hubCpuProf] } : {});
const hubTarget = (url: string, token: string): Target => ({ kind: 'hub', url, tool: `${SOURCE}__echo`, headers: { authorization: `Bearer ${token}` } });

/** The fixture over Streamable HTTP, reached directly and through the hub. */
async function directPair(o: Options): Promise<Pair> {
  const fixture = await startFixtureHttp();
  const cleanups: Array<() => Promise<void>> = [() => fixture.child.stop()];
  try {
    const hub = await startHubProcess({ downstream: { url: fixture.url }, sourceName: SOURCE, ...(o.hubCli ? { cli: o.hubCli } : {}), ...hubCpuProf(o) });
    cleanups.unshift(() => hub.stop());
    const fx = fixture.child.process.pid;
    return {
      baseline: 'direct',
      proxy: 'hub',
      targets: { direct: { kind: 'direct', url: fixture.url, tool: 'echo', headers: {} }, hub: hubTarget(hub.url, hub.token) },
      pids: { direct: { fixture: fx }, hub: { hub: hub.child.process.pid, fixture: fx } },
      pin: () => {
        pin(hub.child.process.pid!, '1');
        pin(fx!, '0');
      },
      cleanups,
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}

/**
 * The fixture over Streamable HTTP, reached directly and through the bare relay (bench/relay.ts):
 * what one more HTTP hop costs on this machine with no work of its own, beside the hub's figures.
 */
async function relayPair(): Promise<Pair> {
  const fixture = await startFixtureHttp();
  const cleanups: Array<() => Promise<void>> = [() => fixture.child.stop()];
  try {
    const relay = await startRelay(new URL(fixture.url).origin);
    cleanups.unshift(() => relay.child.stop());
    const fx = fixture.child.process.pid;
    const relayPid = relay.child.process.pid;
    return {
      baseline: 'direct',
      proxy: 'bare relay',
      targets: {
        direct: { kind: 'direct', url: fixture.url, tool: 'echo', headers: {} },
        hub: { kind: 'relay', url: `${relay.url}${new URL(fixture.url).pathname}`, tool: 'echo', headers: {} },
      },
      pids: { direct: { fixture: fx }, hub: { relay: relayPid, fixture: fx } },
      pin: () => {},
      cleanups,
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}

/** The fixture as a stdio server, bridged to Streamable HTTP by the hub and by mcp-proxy, each spawning its own copy. */
async function bridgePair(o: Options): Promise<Pair> {
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const hub = await startHubProcess({ downstream: { ...FIXTURE_STDIO }, sourceName: SOURCE, ...(o.hubCli ? { cli: o.hubCli } : {}), ...hubCpuProf(o) });
    cleanups.unshift(() => hub.stop());
    const bridge = await startMcpProxy();
    cleanups.unshift(() => bridge.child.stop());
    const hubPid = hub.child.process.pid!;
    const bridgePid = bridge.child.process.pid!;
    const [hubFixture] = childPids(hubPid);
    const [bridgeFixture] = childPids(bridgePid);
    return {
      baseline: 'mcp-proxy',
      proxy: 'hub',
      targets: { direct: { kind: 'mcp-proxy', url: bridge.url, tool: 'echo', headers: {} }, hub: hubTarget(hub.url, hub.token) },
      pids: { direct: { bridge: bridgePid, fixture: bridgeFixture }, hub: { hub: hubPid, fixture: hubFixture } },
      pin: () => {
        pin(hubPid, '1');
        pin(bridgePid, '1');
        for (const p of [hubFixture, bridgeFixture]) if (p !== undefined) pin(p, '0');
      },
      cleanups,
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}

async function measurePair(o: Options, placement: Placement, start: (o: Options) => Promise<Pair>): Promise<EraSummary[]> {
  const pair = await start(o);
  const cleanups = pair.cleanups;
  try {
    if (placement === 'pinned') {
      pair.pin();
      pin(process.pid, '0');
      // os.cpus(), not availableParallelism(): the latter follows this process's own (now narrowed) affinity.
      cleanups.push(async () => pin(process.pid, `0-${cpus().length - 1}`));
    }
    const eras = o.eras;
    const pools = new Map<string, Pool>();
    for (const era of eras) {
      for (const kind of ['direct', 'hub'] as const) {
        const pool = await connectPool(era, pair.targets[kind], o.clients);
        cleanups.unshift(() => pool.close());
        pools.set(`${era}/${kind}`, pool);
      }
    }
    const pool = (era: Era, kind: 'direct' | 'hub') => pools.get(`${era}/${kind}`)!;
    const cpu = { direct: cpuSampler(pair.pids.direct), hub: cpuSampler(pair.pids.hub) };

    // One unmeasured pass over every pool: JIT warm-up, keep-alive sockets opened, caches filled.
    for (const era of eras) for (const kind of ['direct', 'hub'] as const) await runPhase(pool(era, kind), { warmupMs: o.warmup * 1000, durationMs: 0 });

    const runs: Record<Era, EraRun> = {
      legacy: { era: 'legacy', baseline: pair.baseline, proxy: pair.proxy, direct: [], hub: [] },
      modern: { era: 'modern', baseline: pair.baseline, proxy: pair.proxy, direct: [], hub: [] },
    };
    for (let round = 0; round < o.rounds; round++) {
      // ABBA: the target that goes first alternates, and so does the era, so drift cancels out.
      const order = round % 2 === 0 ? (['direct', 'hub'] as const) : (['hub', 'direct'] as const);
      for (const era of round % 2 === 0 ? eras : [...eras].reverse()) {
        for (const kind of order) {
          const r = await runPhase(pool(era, kind), { warmupMs: 250, durationMs: o.seconds * 1000, cpu: cpu[kind] });
          runs[era][kind].push(r);
          const label = kind === 'hub' ? pair.proxy : pair.baseline;
          process.stderr.write(
            `  round ${round + 1}/${o.rounds} ${era.padEnd(6)} ${label.padEnd(9)} ${(r.calls / r.seconds).toFixed(0).padStart(6)} req/s${r.errors ? `, ${r.errors} errors` : ''}\n`,
          );
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
    "      and a saturated ratio is bounded by CPU per call (the CPU table), not by the extra hop's latency",
  ];
  process.stdout.write(`${header.join('\n')}\n\n`);
  const summaries: EraSummary[] = [];
  let cold: ColdStartResult[] = [];
  const pinnable = availableParallelism() >= 2 && hasTaskset();
  /** One measured pair: its title on stderr as it starts, then its table under the title on stdout. */
  const section = async (title: string, placement: Placement, start: (o: Options) => Promise<Pair>) => {
    process.stderr.write(`  ${title}\n`);
    const s = await measurePair(o, placement, start);
    summaries.push(...s);
    process.stdout.write(`${title}\n${throughputReport(s)}\n\n`);
  };
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
      await section(title, placement, directPair);
    }
    if (o.relay) {
      const title =
        'HTTP downstream through a bare relay, placement: shared — node:http passing bytes, no auth, no MCP, no parsing: the floor of one more hop here, not judged';
      await section(title, 'shared', relayPair);
    }
  }
  if (o.bridge) {
    const title =
      'stdio downstream, placement: shared — the fixture over stdio, bridged to Streamable HTTP by the hub and by mcp-proxy (npm), each with its own copy';
    await section(title, 'shared', bridgePair);
  }
  if (o.cold) {
    process.stderr.write(`  stdio cold starts: ${o.coldRuns} × 4 processes\n`);
    cold = await measureColdStarts(o.coldRuns);
    process.stdout.write(`${coldStartReport(cold)}\n`);
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

/**
 * What the hub adds to an agent call, side by side in one run: the sandbox marketplace (in this
 * process, on loopback) answering in a fixed 50 ms, called directly over HTTP and through the hub
 * (`switchboard serve` in its own process, its config pointing at the marketplace) by real MCP
 * clients, for sync and stream. Added latency is the hub's percentile minus the direct one; the
 * hub's CPU per agent call is read from /proc for the hub's process alone (bench/cpu.ts). Direct and
 * hub phases alternate (ABBA across rounds) so background load on the machine hits both.
 *
 * Like with like: the marketplace runs in a process of its own (this file with --serve-marketplace),
 * so the MCP clients' work in this process cannot delay the agent's answers in the hub phases only;
 * and both paths keep their connections alive (the direct one by the global fetch, the hub by its
 * agents' fetch): the new connections the marketplace saw per phase are printed to show it.
 *
 *   npm run bench:agents -- [--calls 200] [--concurrency 4] [--rounds 2] [--warmup 1000] [--latency-ms 50] [--era legacy|modern] [--mode sync|stream|both] [--json]
 *                           [--hub-cpu-prof DIR]   (the hub's V8 CPU profile, written to DIR when it stops)
 *                           [--hub-timeline]       (the hub's own time on each call's way there and back: bench/timeline.ts)
 *                           [--compare-dist DIR]   (a second hub built elsewhere, e.g. a worktree of an older commit's `dist`,
 *                                                   measured in the same run, its phases beside the hub's: a row of its own)
 *
 * A change of a tenth of a millisecond is below the run-to-run spread on a small shared machine
 * (about ±1 ms between runs minutes apart); two builds measured in one run, phase by phase, see it.
 */
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import express from 'express';
import { SANDBOX_AGENT_KEY, marketplaceRoutes } from '../servers/sandbox/agents.js';
import { processCpuMs, processSyscalls } from './cpu.js';
import { ROOT, spawnNode, startHubProcess, startRelay, waitForLine, type RunningHub } from './processes.js';
import { percentile, positiveArg } from './stats.js';
import { hubLegs, readTimeline, type HubTimeline, type Leg } from './timeline.js';

const TARGETS = { addedP50Ms: 2, addedP99Ms: 10 };

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1000' },
    'latency-ms': { type: 'string', default: '50' },
    era: { type: 'string', default: 'legacy' },
    mode: { type: 'string', default: 'both' },
    json: { type: 'boolean', default: false },
    'hub-cpu-prof': { type: 'string' },
    'hub-timeline': { type: 'boolean', default: false },
    'compare-dist': { type: 'string' },
    'serve-marketplace': { type: 'boolean', default: false },
  },
  strict: true,
});
const calls = Math.round(positiveArg('calls', values.calls, 100_000));
const concurrency = Math.round(positiveArg('concurrency', values.concurrency, 100));
const rounds = Math.round(positiveArg('rounds', values.rounds, 50));
const warmup = Math.round(positiveArg('warmup', values.warmup, 100_000));
/** Callers during the warm-up. */
const WARM_WORKERS = 16;
const latencyMs = Math.round(positiveArg('latency-ms', values['latency-ms'], 10_000));
if (values.era !== 'legacy' && values.era !== 'modern') throw new Error(`--era ${values.era}: use legacy or modern`);
const era = values.era;

type Mode = 'sync' | 'stream';
/** The modes measured: both by default; one alone to profile it (--hub-cpu-prof). */
const MODES: readonly Mode[] = (() => {
  const m = values.mode;
  if (m === 'both') return ['sync', 'stream'];
  if (m === 'sync' || m === 'stream') return [m];
  throw new Error(`--mode ${m}: use sync, stream or both`);
})();
/**
 * direct: the marketplace itself; relay: through a bare relay (the floor of one more hop); hub:
 * through the hub by a plain HTTP client; sdk: through the hub by the SDK's client.
 */
const PATHS = ['direct', 'relay', 'hub', 'sdk'] as const;
/** compared: through the hub of --compare-dist by a plain HTTP client, as `hub`. */
type Path = (typeof PATHS)[number] | 'compared';
/** The compared build's CLI, when one is given. */
const OTHER_CLI = values['compare-dist'] === undefined ? undefined : join(values['compare-dist'], 'servers/cli.js');
/**
 * With a compared build the SDK client's phases are left out: the two hubs take the same traffic,
 * so neither is favoured by having served more of it (measured: with the SDK phases on the hub
 * only, the same build in the compared slot showed ~0.5 ms more CPU per call).
 */
const MEASURED: readonly Path[] = OTHER_CLI === undefined ? PATHS : ['direct', 'relay', 'hub', 'compared'];

/** The sandbox agents with the latency fixed in their id; the writer streams all its tokens at once after it. */
const AGENT_IDS: Record<Mode, string> = { sync: `echo_v1+latency-ms=${latencyMs}`, stream: `writer_v2+latency-ms=${latencyMs}+token-ms=0` };

/** The marketplace, serving until killed; prints `{"port":N}` once listening. Counts the connections it accepts. */
async function serveMarketplace(): Promise<void> {
  const app = express();
  let connections = 0;
  app.get('/_bench/connections', (_req, res) => void res.json({ connections }));
  app.use('/v1', marketplaceRoutes().router);
  const server: Server = app.listen(0, '127.0.0.1');
  server.on('connection', () => void connections++);
  await new Promise((r) => server.once('listening', r));
  server.keepAliveTimeout = 60_000;
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
}

async function startMarketplace(): Promise<{ url: string; connections: () => Promise<number>; close: () => Promise<void> }> {
  const child = spawnNode([import.meta.filename, '--serve-marketplace']);
  const port = await waitForLine(child, (line) => Number(/^\{"port":(\d+)\}$/.exec(line)?.[1]) || undefined, 15_000, 'marketplace');
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/v1`,
    connections: async () => ((await (await fetch(`${origin}/_bench/connections`)).json()) as { connections: number }).connections,
    close: () => child.stop(),
  };
}

/** The bare relay (bench/relay.ts) in front of the marketplace: the floor of one more hop on this machine. */
async function startMarketRelay(marketUrl: string): Promise<{ url: string; pid: number; close: () => Promise<void> }> {
  const relay = await startRelay(new URL(marketUrl).origin);
  return { url: `${relay.url}${new URL(marketUrl).pathname}`, pid: relay.child.process.pid!, close: () => relay.child.stop() };
}

/** One call straight to the marketplace, read to its end (the stream's `complete` event closes it). */
async function direct(base: string, mode: Mode, n: number): Promise<void> {
  const res = await fetch(`${base}/agents/${encodeURIComponent(AGENT_IDS[mode])}/tasks`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${SANDBOX_AGENT_KEY}`,
      'content-type': 'application/json',
      accept: mode === 'stream' ? 'text/event-stream' : 'application/json',
    },
    body: JSON.stringify({ mode, input: { input: `ping ${n}` }, session_id: 'bench' }),
  });
  const body = await res.text();
  if (!res.ok || (mode === 'stream' && !body.includes('event: complete'))) throw new Error(`direct ${mode}: ${res.status} ${body.slice(0, 200)}`);
}

interface Caller {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Request ids of the raw calls on this session. */
  nextId: number;
}

async function connect(hub: RunningHub): Promise<Caller> {
  const client = new Client({ name: 'bench-agents', version: '1.0.0' }, { versionNegotiation: { mode: era === 'legacy' ? 'legacy' : 'auto' } });
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } });
  await client.connect(transport);
  return { client, transport, nextId: 1_000_000 };
}

/**
 * One call through the hub by a plain HTTP client (the global fetch, like the direct path): a
 * JSON-RPC `tools/call` POSTed on the 2025 session the SDK client opened, or as a stateless
 * 2026-07-28 request with its envelope, and its answer read to the end. Side by side with `direct`, this is what the hub alone adds; the
 * SDK client's own parsing and validation are not the hub's. A stream asks for progress and must
 * get some before its result.
 */
async function viaHubRaw(hub: RunningHub, c: Caller, mode: Mode, n: number): Promise<void> {
  const id = c.nextId++;
  const name = `agent__${mode}_agent`;
  const progress = mode === 'stream' ? { progressToken: id } : {};
  // A 2025 call names its session; a 2026 one is stateless and carries its envelope and method headers.
  const headers: Record<string, string> =
    era === 'legacy'
      ? { 'mcp-session-id': c.transport.sessionId ?? '', 'mcp-protocol-version': c.transport.protocolVersion ?? '2025-11-25' }
      : { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name };
  const meta = era === 'legacy' ? progress : { ...progress, ...MODERN_ENVELOPE };
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { input: `ping ${n}` }, _meta: meta } }),
  });
  const text = await res.text();
  type Message = { id?: number; method?: string; result?: { isError?: boolean }; error?: unknown };
  const messages = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data: ') && line.length > 6)
        .map((line) => JSON.parse(line.slice(6)) as Message)
    : [JSON.parse(text) as Message];
  const answer = messages.findIndex((m) => m.id === id);
  const result = messages[answer]?.result;
  if (!res.ok || result === undefined || result.isError) throw new Error(`hub ${mode} (raw): ${res.status} ${JSON.stringify(messages).slice(0, 300)}`);
  if (mode === 'stream' && !messages.slice(0, answer).some((m) => m.method === 'notifications/progress')) {
    throw new Error('hub stream (raw): no progress arrived before the result');
  }
}

/** What a 2026-07-28 client puts in every request's `_meta`. */
const MODERN_ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench-agents', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** One call through the hub; a stream's tokens arrive as progress notifications, which the client takes. */
async function viaHub(c: Caller, mode: Mode, n: number): Promise<void> {
  let progress = 0;
  const r = await c.client.callTool(
    { name: `agent__${mode}_agent`, arguments: { input: `ping ${n}` } },
    mode === 'stream' ? { onprogress: () => void progress++, timeout: 30_000 } : { timeout: 30_000 },
  );
  if (r.isError) throw new Error(`hub ${mode}: ${JSON.stringify(r.content).slice(0, 200)}`);
  if (mode === 'stream' && progress === 0) throw new Error('hub stream: no progress arrived before the result');
}

interface Phase {
  latencies: number[];
  hubCpuMs: number;
  /** The bare relay's CPU over the phase. */
  relayCpuMs: number;
  /** The hub's write and read system calls over the phase. */
  hubWrites: number;
  hubReads: number;
  /** Connections the marketplace accepted during the phase: a path that reuses them opens none. */
  connections: number;
}

/** `calls` calls from `concurrency` callers, each one at a time; latencies in ms and the hub's CPU over the phase. */
async function phase(
  run: (worker: number, n: number) => Promise<void>,
  pids: { hub: number; relay: number },
  count: number,
  connections: () => Promise<number>,
  workers = concurrency,
): Promise<Phase> {
  const hubPid = pids.hub;
  const latencies: number[] = [];
  let next = 0;
  const conn0 = await connections();
  const cpu0 = processCpuMs(hubPid) ?? Number.NaN;
  const relay0 = processCpuMs(pids.relay) ?? Number.NaN;
  const io0 = processSyscalls(hubPid);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let n = next++; n < count; n = next++) {
        const started = performance.now();
        await run(w, n);
        latencies.push(performance.now() - started);
      }
    }),
  );
  const hubCpuMs = (processCpuMs(hubPid) ?? Number.NaN) - cpu0;
  const relayCpuMs = (processCpuMs(pids.relay) ?? Number.NaN) - relay0;
  const io1 = processSyscalls(hubPid);
  const hubWrites = io0 && io1 ? io1.writes - io0.writes : Number.NaN;
  const hubReads = io0 && io1 ? io1.reads - io0.reads : Number.NaN;
  return { latencies, hubCpuMs, relayCpuMs, hubWrites, hubReads, connections: (await connections()) - conn0 };
}

interface Latency {
  p50: number;
  p99: number;
  addedP50: number;
  addedP99: number;
}

interface ModeResult {
  mode: Mode;
  calls: number;
  direct: { p50: number; p99: number };
  /** Through a bare relay: what one more hop costs at the least (its own CPU per call is the floor of any hop's). */
  relay: Latency;
  /** Through the hub by a plain HTTP client: what the hub adds. The targets apply here. */
  hub: Latency;
  /** Through the hub by the SDK's client: what a TypeScript SDK user sees end to end (not measured beside a compared build). */
  sdk?: Latency;
  /** With --compare-dist: through the other build's hub by the plain client, and its CPU per call. */
  other?: Latency & { cpuMsPerCall: number };
  /** The hub's CPU per call, over the plain client's phases and over the SDK client's. */
  hubCpuMsPerCall: number;
  sdkHubCpuMsPerCall?: number;
  /** The bare relay's CPU per call through it: the floor of any hop's. */
  relayCpuMsPerCall: number;
  /** The idle hub's CPU per call-time while the direct phases ran (timers, GC): the floor of the figure above. */
  hubIdleCpuMsPerCall: number;
  /** The hub's system calls per call through it (median phase), less the idle hub's in its quietest direct phase. */
  hubWritesPerCall: number;
  hubReadsPerCall: number;
  /** New connections the marketplace saw over the measured phases, by path. */
  connections: Partial<Record<Path, number>>;
  /** With --hub-timeline: the hub's own time on each plain call's way there and back. */
  timeline?: HubTimeline;
}

/** Now, in epoch ms: comparable with the instants the hub records (bench/hub-timeline.ts). */
const epochNow = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const market = await startMarketplace();
  const relay = await startMarketRelay(market.url);
  const base = { protocol: 'upagents', baseUrl: market.url, apiKey: SANDBOX_AGENT_KEY, retries: 0, timeoutMs: 10_000 };
  // The hub's environment is this process's when it is spawned: the timeline file goes with it.
  const timelineFile = values['hub-timeline'] ? join(tmpdir(), `switchboard-bench-timeline-${process.pid}.json`) : undefined;
  if (timelineFile) process.env.SWITCHBOARD_BENCH_TIMELINE_FILE = timelineFile;
  const nodeFlags = [
    ...(values['hub-cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['hub-cpu-prof']] : []),
    ...(timelineFile ? ['--import', join(ROOT, 'dist/bench/hub-timeline.js')] : []),
  ];
  const config = { agents: { sync_agent: { ...base, agentId: AGENT_IDS.sync }, stream_agent: { ...base, agentId: AGENT_IDS.stream, mode: 'stream' } } };
  const hub = await startHubProcess({ config, ...(nodeFlags.length > 0 ? { nodeFlags } : {}) });
  const other = OTHER_CLI === undefined ? undefined : await startHubProcess({ config, cli: OTHER_CLI });
  /** When each mode's plain-client hub phases ran. */
  const hubWindows: Record<Mode, Array<[number, number]>> = { sync: [], stream: [] };
  const pids = { hub: hub.child.process.pid!, relay: relay.pid };
  const clients = await Promise.all(Array.from({ length: concurrency }, () => connect(hub)));
  const otherClients = other === undefined ? [] : await Promise.all(Array.from({ length: concurrency }, () => connect(other)));
  /** Whose CPU a phase reads: the compared hub's in its own phases. */
  const pidsOf = (path: Path) => (path === 'compared' && other ? { ...pids, hub: other.child.process.pid! } : pids);
  const results: ModeResult[] = [];
  const runsOf = (mode: Mode, callers: readonly Caller[], otherCallers: readonly Caller[]): Record<Path, (w: number, n: number) => Promise<void>> => ({
    direct: (_w, n) => direct(market.url, mode, n),
    relay: (_w, n) => direct(relay.url, mode, n),
    hub: (w, n) => viaHubRaw(hub, callers[w]!, mode, n),
    sdk: (w, n) => viaHub(callers[w]!, mode, n),
    compared: (w, n) => viaHubRaw(other!, otherCallers[w % otherCallers.length]!, mode, n),
  });
  try {
    // Warm every path (connections, the hub's JIT, the marketplace's) as a hub that has run for a
    // while is: V8 optimises a function after some thousands of runs, and until then compiles on
    // helper threads the CPU figures would count. Many callers at once, so it takes seconds; the
    // extra sessions are closed before the measured phases, which see `concurrency` sessions.
    const extra = await Promise.all(Array.from({ length: Math.max(0, WARM_WORKERS - concurrency) }, () => connect(hub)));
    const warmers = [...clients, ...extra];
    const otherExtra = other === undefined ? [] : await Promise.all(Array.from({ length: Math.max(0, WARM_WORKERS - concurrency) }, () => connect(other)));
    const otherWarmers = [...otherClients, ...otherExtra];
    for (const mode of MODES)
      for (const path of MEASURED) await phase(runsOf(mode, warmers, otherWarmers)[path], pidsOf(path), warmup, market.connections, warmers.length);
    await Promise.all([...extra, ...otherExtra].map((c) => c.client.close()));
    for (const mode of MODES) {
      const runs = runsOf(mode, clients, otherClients);
      const seen: Record<Path, Phase[]> = { direct: [], relay: [], hub: [], sdk: [], compared: [] };
      const order = Array.from({ length: rounds }, () => [...MEASURED, ...[...MEASURED].reverse()]).flat();
      for (const path of order) {
        const from = epochNow();
        seen[path].push(await phase(runs[path], pidsOf(path), calls, market.connections));
        if (path === 'hub') hubWindows[mode].push([from, epochNow()]);
      }
      const opened = (path: Path) => seen[path].reduce((s, p) => s + p.connections, 0);
      const all = (path: Path) => seen[path].flatMap((p) => p.latencies);
      const cpu = (path: Path) => seen[path].reduce((s, p) => s + p.hubCpuMs, 0) / all(path).length;
      // Per phase, then the median through the hub less the quietest idle phase: a burst of the idle
      // hub's own (a log flush, a store poll) in one phase would otherwise skew the difference, even
      // below zero.
      const perPhase = (path: Path, key: 'hubWrites' | 'hubReads') => seen[path].map((p) => p[key] / p.latencies.length);
      const syscalls = (key: 'hubWrites' | 'hubReads') => percentile(perPhase('hub', key), 50) - Math.min(...perPhase('direct', key));
      const d = { p50: percentile(all('direct'), 50), p99: percentile(all('direct'), 99) };
      const through = (path: Path): Latency => {
        const p50 = percentile(all(path), 50);
        const p99 = percentile(all(path), 99);
        return { p50, p99, addedP50: p50 - d.p50, addedP99: p99 - d.p99 };
      };
      results.push({
        mode,
        calls: all('hub').length,
        direct: d,
        relay: through('relay'),
        hub: through('hub'),
        ...(MEASURED.includes('sdk') ? { sdk: through('sdk'), sdkHubCpuMsPerCall: cpu('sdk') } : {}),
        ...(other ? { other: { ...through('compared'), cpuMsPerCall: cpu('compared') } } : {}),
        hubCpuMsPerCall: cpu('hub'),
        relayCpuMsPerCall: seen.relay.reduce((s, p) => s + p.relayCpuMs, 0) / all('relay').length,
        hubIdleCpuMsPerCall: cpu('direct'),
        hubWritesPerCall: syscalls('hubWrites'),
        hubReadsPerCall: syscalls('hubReads'),
        connections: Object.fromEntries(MEASURED.map((p) => [p, opened(p)])),
      });
    }
  } finally {
    await Promise.all([...clients, ...otherClients].map((c) => c.client.close().catch(() => {})));
    await hub.stop();
    await other?.stop();
    await relay.close();
    await market.close();
  }
  // Written by the hub as it exited.
  if (timelineFile) {
    const events = readTimeline(timelineFile);
    rmSync(timelineFile, { force: true });
    for (const r of results) r.timeline = hubLegs(events, hubWindows[r.mode]);
  }

  const verdict = (v: number, max: number) => (v <= max ? 'PASS' : 'MISS');
  if (values.json) {
    console.log(JSON.stringify({ latencyMs, concurrency, calls, rounds, era, targets: TARGETS, results }, null, 2));
    return;
  }
  console.log(
    `agent calls: a sandbox agent answering in ${latencyMs} ms, ${concurrency} callers, ${calls} calls per phase and path, phases in the order ${PATHS.join(', ')} and back, x ${rounds} (${era} MCP session)`,
  );
  console.log('mode     through           direct p50 / p99      p50 / p99             added p50          added p99          CPU per call: hub (idle); relay');
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${ms(v)}`;
  for (const r of results) {
    const rows: Array<[string, Latency, number, boolean]> = [
      ['bare relay', r.relay, r.relayCpuMsPerCall, false],
      ['hub, plain HTTP', r.hub, r.hubCpuMsPerCall, true],
      ...(r.other ? [['compared build', r.other, r.other.cpuMsPerCall, false] as [string, Latency, number, boolean]] : []),
      ...(r.sdk ? [['hub, SDK', r.sdk, r.sdkHubCpuMsPerCall ?? Number.NaN, false] as [string, Latency, number, boolean]] : []),
    ];
    for (const [client, l, cpuMs, judged] of rows) {
      const mark = (v: number, max: number) => (judged ? ` ${verdict(v, max)}` : '');
      console.log(
        `${r.mode.padEnd(7)}  ${client.padEnd(16)}  ${`${ms(r.direct.p50)} / ${ms(r.direct.p99)}`.padEnd(20)}  ${`${ms(l.p50)} / ${ms(l.p99)}`.padEnd(20)}  ${`${signed(l.addedP50)}${mark(l.addedP50, TARGETS.addedP50Ms)}`.padEnd(17)}  ${`${signed(l.addedP99)}${mark(l.addedP99, TARGETS.addedP99Ms)}`.padEnd(17)}  ${client === 'bare relay' || client === 'compared build' ? `${cpuMs.toFixed(2)} ms` : `${cpuMs.toFixed(2)} ms (${r.hubIdleCpuMsPerCall.toFixed(2)})`}`,
      );
    }
  }
  for (const r of results) {
    console.log(`${r.mode}: new connections to the marketplace over ${r.calls} calls per path: ${MEASURED.map((p) => `${p} ${r.connections[p]}`).join(', ')}`);
  }
  for (const r of results) {
    console.log(
      `${r.mode}: hub system calls per call (plain client): ${r.hubWritesPerCall.toFixed(1)} writes, ${r.hubReadsPerCall.toFixed(1)} reads (sockets, pipes and files; the median phase less the quietest idle one)`,
    );
  }
  const leg = (l: Leg) => `p50 ${l.p50.toFixed(2)} ms, p90 ${l.p90.toFixed(2)} ms (${l.n} calls)`;
  for (const r of results) {
    if (!r.timeline) continue;
    console.log(
      `${r.mode}: in the hub (plain client): request in → agent request out ${leg(r.timeline.there)}; agent answer in → answer written ${leg(r.timeline.back)}`,
    );
  }
  console.log(
    `targets: added p50 <= ${TARGETS.addedP50Ms} ms, added p99 <= ${TARGETS.addedP99Ms} ms, judged with the plain client (the SDK client's own work is not the hub's; its row shows what an SDK user sees); the bare relay is the floor of one more hop on this machine`,
  );
}

if (values['serve-marketplace']) await serveMarketplace();
else await main();

import type { ColdStartResult } from './cold-start.js';
import type { CpuSnapshot } from './cpu.js';
import type { Era, PhaseResult } from './load.js';
import { minMax, percentile } from './stats.js';

export const TARGETS = {
  /** hub throughput ÷ baseline throughput, at least: the fixture reached directly, or mcp-proxy bridging it */
  ratio: { direct: 0.6, 'mcp-proxy': 1.0 } satisfies Record<Baseline, number>,
  /** the hub process's CPU per proxied tools/call, at most */
  hubCpuMs: 0.8,
  /** stdio spawn → first tools/list answer, median, at most */
  coldStartMs: 400,
};

/** What the hub is compared with; its phases sit in the `direct` slot of a run. */
export type Baseline = 'direct' | 'mcp-proxy';

/**
 * What sits in the `hub` slot of a run: the hub, judged against the targets, or the bare relay
 * (bench/relay.ts), the floor of any hop on the machine, shown beside them and not judged.
 */
export type InTheMiddle = 'hub' | 'bare relay';

export interface EraRun {
  era: Era;
  baseline: Baseline;
  proxy: InTheMiddle;
  direct: PhaseResult[];
  hub: PhaseResult[];
}

export interface EraSummary {
  era: Era;
  baseline: Baseline;
  proxy: InTheMiddle;
  directRps: number;
  hubRps: number;
  ratio: number;
  /** hub ÷ direct per round (adjacent phases), to show the spread. */
  roundRatios: number[];
  direct: { p50: number; p99: number };
  hub: { p50: number; p99: number };
  /** CPU ms per completed call, by process. */
  cpuPerCall: { direct: CpuSnapshot; hub: CpuSnapshot };
  errors: number;
  firstError?: string;
}

function cpuPerCall(phases: readonly PhaseResult[]): CpuSnapshot {
  const sum: CpuSnapshot = {};
  let calls = 0;
  for (const p of phases) {
    if (!p.cpuMs) continue;
    calls += p.calls;
    for (const [k, v] of Object.entries(p.cpuMs)) sum[k] = (sum[k] ?? 0) + v;
  }
  return Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, calls ? v / calls : Number.NaN]));
}

function total(phases: readonly PhaseResult[]): { calls: number; seconds: number; latencies: number[]; errors: number; firstError?: string } {
  const latencies: number[] = [];
  let calls = 0;
  let seconds = 0;
  let errors = 0;
  let firstError: string | undefined;
  for (const p of phases) {
    calls += p.calls;
    seconds += p.seconds;
    errors += p.errors;
    firstError ??= p.firstError;
    for (const l of p.latenciesMs) latencies.push(l);
  }
  return firstError === undefined ? { calls, seconds, latencies, errors } : { calls, seconds, latencies, errors, firstError };
}

const rps = (p: PhaseResult) => p.calls / p.seconds;

export function summarise(run: EraRun): EraSummary {
  const d = total(run.direct);
  const h = total(run.hub);
  const directRps = d.calls / d.seconds;
  const hubRps = h.calls / h.seconds;
  const summary: EraSummary = {
    era: run.era,
    baseline: run.baseline,
    proxy: run.proxy,
    directRps,
    hubRps,
    ratio: hubRps / directRps,
    roundRatios: run.hub.map((p, i) => rps(p) / rps(run.direct[i]!)),
    direct: { p50: percentile(d.latencies, 50), p99: percentile(d.latencies, 99) },
    hub: { p50: percentile(h.latencies, 50), p99: percentile(h.latencies, 99) },
    cpuPerCall: { direct: cpuPerCall(run.direct), hub: cpuPerCall(run.hub) },
    errors: d.errors + h.errors,
  };
  const firstError = h.firstError ?? d.firstError;
  if (firstError !== undefined) summary.firstError = firstError;
  return summary;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const cpuTotal = (c: CpuSnapshot) => Object.values(c).reduce((a, b) => a + b, 0);
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const ERA_LABEL: Record<Era, string> = { legacy: '2025 session (legacy)', modern: '2026-07-28 (auto)' };

export function throughputReport(summaries: readonly EraSummary[]): string {
  const baseline = summaries[0]?.baseline ?? 'direct';
  const proxy = summaries[0]?.proxy ?? 'hub';
  // Only the hub is judged; the bare relay's rows show what the targets ask of any hop here.
  const judgedProxy = proxy === 'hub';
  const target = TARGETS.ratio[baseline];
  const ratioRows = summaries.map((s) => {
    const spread = minMax(s.roundRatios);
    const judged = judgedProxy ? [`≥ ${f2(target)}`, verdict(s.ratio >= target)] : ['', ''];
    return [ERA_LABEL[s.era], f0(s.directRps), f0(s.hubRps), f2(s.ratio), `${f2(spread.min)}–${f2(spread.max)}`, ...judged];
  });
  const latencyRows = summaries.map((s) => [
    ERA_LABEL[s.era],
    f2(s.direct.p50),
    f2(s.hub.p50),
    f2(s.hub.p50 - s.direct.p50),
    f2(s.direct.p99),
    f2(s.hub.p99),
    f2(s.hub.p99 - s.direct.p99),
  ]);
  const out = [
    `tools/call throughput (req/s), ${proxy} ÷ ${baseline}`,
    table(['client era', baseline, proxy, 'ratio', 'per round', 'target', ''], ratioRows),
    '',
    'tools/call latency (ms)',
    table(['client era', `${baseline} p50`, `${proxy} p50`, 'added p50', `${baseline} p99`, `${proxy} p99`, 'added p99'], latencyRows),
  ];
  // The bridge column holds the proxy's own CPU: the hub's on hub rows, mcp-proxy's or the relay's on theirs.
  const cpuRows = summaries.flatMap((s) =>
    (['direct', 'hub'] as const).map((kind) => {
      const c = s.cpuPerCall[kind];
      const sum = cpuTotal(c);
      const bridge = c['hub'] ?? c['bridge'] ?? c['relay'];
      const judged = judgedProxy && kind === 'hub' && bridge !== undefined;
      return [
        `${ERA_LABEL[s.era]}, ${kind === 'hub' ? s.proxy : s.baseline}`,
        f3(c['client'] ?? Number.NaN),
        bridge === undefined ? '-' : f3(bridge),
        f3(c['fixture'] ?? Number.NaN),
        f3(sum),
        judged ? `≤ ${f2(TARGETS.hubCpuMs)}` : '',
        judged ? verdict(bridge <= TARGETS.hubCpuMs) : '',
      ];
    }),
  );
  if (cpuRows.some((r) => r[4] !== 'n/a')) {
    out.push('', "CPU ms per call, by process (from /proc; the proxy column is the bridge's own cost: the hub, mcp-proxy or the bare relay)");
    out.push(table(['client era, target', 'load gen', 'proxy', 'fixture', 'total', 'target', ''], cpuRows));
    // With every process on the same saturated cores, req/s ≈ cores ÷ total CPU per call, so the
    // ratio is bounded by baseline CPU ÷ hub CPU whatever the latency of each hop.
    const bounds = summaries.map((s) => `${ERA_LABEL[s.era]} ${f2(cpuTotal(s.cpuPerCall.direct) / cpuTotal(s.cpuPerCall.hub))}`);
    out.push(`CPU-bound ratio (${baseline} total ÷ ${proxy} total): ${bounds.join(', ')}`);
  }
  for (const s of summaries) {
    if (s.errors) out.push(`! ${ERA_LABEL[s.era]}: ${s.errors} failed calls; first: ${s.firstError ?? '?'}`);
  }
  return out.join('\n');
}

export function coldStartReport(results: readonly ColdStartResult[]): string {
  const rows = results.map((r) => [
    r.label,
    f0(r.medianMs),
    f0(r.minMs),
    f0(r.maxMs),
    r.judged ? `≤ ${TARGETS.coldStartMs}` : '',
    r.judged ? verdict(r.medianMs <= TARGETS.coldStartMs) : '',
  ]);
  return ['stdio cold start: spawn → first tools/list answer (ms)', table(['process', 'median', 'min', 'max', 'target', ''], rows)].join('\n');
}

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { cpuDelta, type CpuSnapshot } from './cpu.js';

export type Era = 'legacy' | 'modern';
/** `direct`: the fixture itself; `hub`: through Switchboard; `mcp-proxy`: through the npm bridge; `relay`: through a bare relay (bench/relay.ts). */
export type TargetKind = 'direct' | 'hub' | 'mcp-proxy' | 'relay';

/** The protocol revision each era must negotiate; anything else would measure the wrong path. */
const EXPECTED_VERSION: Record<Era, string> = { legacy: '2025-11-25', modern: '2026-07-28' };

export interface Target {
  kind: TargetKind;
  url: string;
  /** The echo tool's name at this target (the hub prefixes it with the source name). */
  tool: string;
  headers: Record<string, string>;
}

export interface Pool {
  era: Era;
  target: Target;
  clients: Client[];
  close: () => Promise<void>;
}

export interface PhaseResult {
  /** Calls that completed inside the measured window. */
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latenciesMs: number[];
  /** CPU ms each process spent during the measured window, when a sampler was given. */
  cpuMs?: CpuSnapshot;
}

/** Hard bounds so a phase ends even if the clock or a server misbehaves. */
const CALL_TIMEOUT_MS = 10_000;
const MAX_CALLS_PER_CLIENT = 1_000_000;
const ECHO_TEXT = 'ping';

/**
 * N SDK clients of one era against one target. Each keeps its connection for the whole run:
 * Node's fetch pools keep-alive sockets per origin, so after the first phase no call pays a TCP
 * handshake, for the hub and the direct target alike.
 */
export async function connectPool(era: Era, target: Target, n: number): Promise<Pool> {
  const clients: Client[] = [];
  const close = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  };
  try {
    for (let i = 0; i < n; i++) {
      const client = new Client({ name: `bench-${era}-${i}`, version: '1.0.0' }, { versionNegotiation: { mode: era === 'legacy' ? 'legacy' : 'auto' } });
      await client.connect(new StreamableHTTPClientTransport(new URL(target.url), { requestInit: { headers: target.headers } }), { timeout: CALL_TIMEOUT_MS });
      clients.push(client);
      const version = client.getNegotiatedProtocolVersion();
      if (version !== EXPECTED_VERSION[era])
        throw new Error(`${target.kind} negotiated ${version ?? 'nothing'} for a ${era} client; expected ${EXPECTED_VERSION[era]}`);
    }
    // One checked call per client up front: a wrong tool name must fail here, not be counted as load.
    await Promise.all(clients.map((c) => callOnce(c, target.tool)));
  } catch (err) {
    await close();
    throw err;
  }
  return { era, target, clients, close };
}

async function callOnce(client: Client, tool: string): Promise<void> {
  const result = await client.callTool({ name: tool, arguments: { text: ECHO_TEXT } }, { timeout: CALL_TIMEOUT_MS });
  const first = result.content[0];
  if (result.isError || first?.type !== 'text' || first.text !== ECHO_TEXT) {
    throw new Error(`unexpected echo result: ${JSON.stringify(result).slice(0, 300)}`);
  }
}

/**
 * Closed-loop load: every client calls echo back to back. Calls in the first `warmupMs` are not
 * counted (JIT, pool growth); then completions inside `[start, start + durationMs]` are counted and
 * their latencies kept. Each loop stops at the window's end or after a fixed number of calls.
 */
export async function runPhase(pool: Pool, opts: { warmupMs: number; durationMs: number; cpu?: () => CpuSnapshot }): Promise<PhaseResult> {
  const begin = performance.now();
  const start = begin + opts.warmupMs;
  const end = start + opts.durationMs;
  // Timers fire a little late under load; the window's calls are counted by timestamps, so the
  // CPU figures cover a window a few ms off at each edge, which is noise next to a multi-second phase.
  let cpuStart: CpuSnapshot | undefined;
  let cpuEnd: CpuSnapshot | undefined;
  const sample = opts.cpu;
  const timers = sample ? [setTimeout(() => (cpuStart = sample()), opts.warmupMs), setTimeout(() => (cpuEnd = sample()), opts.warmupMs + opts.durationMs)] : [];
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (client: Client) => {
    for (let i = 0; i < MAX_CALLS_PER_CLIENT; i++) {
      const t0 = performance.now();
      if (t0 >= end) return;
      let failed: string | undefined;
      try {
        await callOnce(client, pool.target.tool);
      } catch (err) {
        failed = err instanceof Error ? err.message : String(err);
      }
      const t1 = performance.now();
      if (t1 < start || t1 > end) continue;
      if (failed === undefined) latenciesMs.push(t1 - t0);
      else {
        errors++;
        firstError ??= failed;
      }
    }
  };
  await Promise.all(pool.clients.map(loop));
  // The last call can finish before the end timer fires; wait for it so the CPU window is complete.
  while (sample && cpuEnd === undefined && performance.now() < end + 1_000) await new Promise((r) => setTimeout(r, 5));
  for (const t of timers) clearTimeout(t);
  const result: PhaseResult = { calls: latenciesMs.length, errors, seconds: opts.durationMs / 1000, latenciesMs };
  if (cpuStart && cpuEnd) result.cpuMs = cpuDelta(cpuStart, cpuEnd);
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

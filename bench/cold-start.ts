import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { CLI, FIXTURE, FIXTURE_STDIO, stopChild, tmpDir } from './processes.js';
import { median, minMax } from './stats.js';

const ANSWER_TIMEOUT_MS = 20_000;

/**
 * What a stdio client sends on launch, written at once: the child reads it when it is ready, so
 * the time measured is spawn → the tools/list answer, as a desktop client waits for it.
 */
const HANDSHAKE = [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
]
  .map((m) => JSON.stringify(m))
  .join('\n');

/** Milliseconds from spawn to the tools/list answer of one fresh process, and the tools it listed. */
export async function timeToFirstToolsList(args: readonly string[], cwd: string): Promise<{ ms: number; tools: string[] }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  child.stdin.write(`${HANDSHAKE}\n`);
  try {
    return await new Promise<{ ms: number; tools: string[] }>((res, rej) => {
      const lines = createInterface({ input: child.stdout });
      const timer = setTimeout(() => rej(new Error(`no tools/list answer within ${ANSWER_TIMEOUT_MS} ms from ${args.join(' ')}`)), ANSWER_TIMEOUT_MS);
      child.once('exit', (code) => rej(new Error(`${args.join(' ')} exited (code ${code}) before answering tools/list`)));
      lines.on('line', (line) => {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          return; // stdout noise would break a real client too, but here only the answer matters
        }
        if (typeof msg === 'object' && msg !== null && 'id' in msg && msg.id === 2) {
          clearTimeout(timer);
          const ms = performance.now() - t0;
          const tools = 'result' in msg && typeof msg.result === 'object' && msg.result !== null && 'tools' in msg.result ? msg.result.tools : undefined;
          if (Array.isArray(tools)) res({ ms, tools: tools.map((t: unknown) => (typeof t === 'object' && t !== null && 'name' in t ? String(t.name) : '?')) });
          else rej(new Error(`tools/list failed: ${line.slice(0, 300)}`));
        }
      });
    });
  } finally {
    // Closing stdin is how a client ends a stdio server; the grace period covers a clean shutdown.
    child.stdin.end();
    await stopChild(child, 5_000);
  }
}

export interface ColdStartResult {
  label: string;
  /** Whether the row is held to the cold-start target (the reference rows are not). */
  judged: boolean;
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

function summarise(label: string, samplesMs: number[], judged = false): ColdStartResult {
  const { min, max } = minMax(samplesMs);
  return { label, judged, samplesMs, medianMs: median(samplesMs), minMs: min, maxMs: max };
}

const SOURCE = 'fx';

/** A timed start whose first list must hold exactly the fixture's tools under the hub's prefix. */
async function timeWarmStart(args: readonly string[], cwd: string, expected: readonly string[]): Promise<number> {
  const { ms, tools } = await timeToFirstToolsList(args, cwd);
  const missing = expected.filter((t) => !tools.includes(t));
  if (missing.length) throw new Error(`the first tools/list of a warm start lacks ${missing.join(', ')} (it listed ${tools.join(', ') || 'nothing'})`);
  return ms;
}

/**
 * The hub's stdio face on a fresh data dir for every start (the store is created and migrated),
 * on one reused data dir (the usual case after the first start), on a reused data dir with the
 * fixture configured as a stdio downstream (the first list comes from the cached lists and must
 * hold every fixture tool), and the bare fixture server as the floor that Node and the SDK alone
 * cost. Runs are interleaved so noise hits every row.
 */
export async function measureColdStarts(runs: number): Promise<ColdStartResult[]> {
  const work = tmpDir('switchboard-cold-');
  try {
    const reused = join(work.path, 'reused');
    // cwd is the empty temp dir so no switchboard.config.json from elsewhere is picked up.
    const hubArgs = (data: string, config?: string) => [CLI, 'stdio', '--no-http', '--data', data, ...(config ? ['--config', config] : [])];
    const cached = join(work.path, 'cached');
    const config = join(work.path, 'with-fixture.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { [SOURCE]: FIXTURE_STDIO } }));
    // One untimed start of each warms the OS file cache and creates the reused stores; the one
    // with the fixture waits for it (no cached list yet) and leaves its lists in the store.
    await timeToFirstToolsList(hubArgs(reused), work.path);
    const direct = await timeToFirstToolsList([FIXTURE, '--stdio'], work.path);
    const expected = direct.tools.map((t) => `${SOURCE}__${t}`);
    await timeWarmStart(hubArgs(cached, config), work.path, expected);
    const fresh: number[] = [];
    const existing: number[] = [];
    const warm: number[] = [];
    const fixture: number[] = [];
    for (let i = 0; i < runs; i++) {
      fresh.push((await timeToFirstToolsList(hubArgs(join(work.path, `fresh-${i}`)), work.path)).ms);
      existing.push((await timeToFirstToolsList(hubArgs(reused), work.path)).ms);
      warm.push(await timeWarmStart(hubArgs(cached, config), work.path, expected));
      fixture.push((await timeToFirstToolsList([FIXTURE, '--stdio'], work.path)).ms);
    }
    return [
      summarise('hub stdio, fresh data dir, no downstream', fresh, true),
      summarise('hub stdio, existing data dir, no downstream', existing),
      summarise('hub stdio, warm cache, fixture configured', warm, true),
      summarise('fixture --stdio (reference)', fixture),
    ];
  } finally {
    work.remove();
  }
}

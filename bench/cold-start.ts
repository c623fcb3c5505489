import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { CLI, FIXTURE, stopChild, tmpDir } from './processes.js';
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

/** Milliseconds from spawn to the tools/list answer of one fresh process. */
export async function timeToFirstToolsList(args: readonly string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  child.stdin.write(`${HANDSHAKE}\n`);
  try {
    return await new Promise<number>((res, rej) => {
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
          if ('result' in msg && typeof msg.result === 'object' && msg.result !== null && 'tools' in msg.result) res(performance.now() - t0);
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
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

function summarise(label: string, samplesMs: number[]): ColdStartResult {
  const { min, max } = minMax(samplesMs);
  return { label, samplesMs, medianMs: median(samplesMs), minMs: min, maxMs: max };
}

/**
 * The hub's stdio face on a fresh data dir for every start (the store is created and migrated),
 * on one reused data dir (the usual case after the first start), and the bare fixture server as
 * the floor that Node and the SDK alone cost. Runs are interleaved so noise hits all three.
 */
export async function measureColdStarts(runs: number): Promise<ColdStartResult[]> {
  const work = tmpDir('switchboard-cold-');
  try {
    const reused = join(work.path, 'reused');
    // cwd is the empty temp dir so no switchboard.config.json from elsewhere is picked up.
    const hubArgs = (data: string) => [CLI, 'stdio', '--no-http', '--data', data];
    // One untimed start of each warms the OS file cache and creates the reused store.
    await timeToFirstToolsList(hubArgs(reused), work.path);
    await timeToFirstToolsList([FIXTURE, '--stdio'], work.path);
    const fresh: number[] = [];
    const existing: number[] = [];
    const fixture: number[] = [];
    for (let i = 0; i < runs; i++) {
      fresh.push(await timeToFirstToolsList(hubArgs(join(work.path, `fresh-${i}`)), work.path));
      existing.push(await timeToFirstToolsList(hubArgs(reused), work.path));
      fixture.push(await timeToFirstToolsList([FIXTURE, '--stdio'], work.path));
    }
    return [
      summarise('hub stdio, existing data dir', existing),
      summarise('hub stdio, fresh data dir', fresh),
      summarise('fixture --stdio (reference)', fixture),
    ];
  } finally {
    work.remove();
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessRegistry } from '../../src/mcp/downstream/process-registry.js';
import { bootId, procStat } from '../../src/mcp/downstream/proc-stat.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CLI, ROOT, eventually, tmpDir } from '../helpers/hub.js';

const LIMITS_SERVER = join(ROOT, 'dist/test/fixtures/limits-server.js');

/** Pids of live (non-zombie) processes whose environment carries the marker. */
function marked(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker)) continue;
      if (procStat(Number(entry))?.state !== 'Z') out.push(Number(entry));
    } catch {
      // Exited while being read, or another user's process.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z';
}

function stdioHub(config: string, data: string): ChildProcess & { log: () => string } {
  const hub = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--config', config, '--data', data], { stdio: ['pipe', 'pipe', 'pipe'] });
  hub.stdout!.resume();
  let log = '';
  hub.stderr!.on('data', (c: Buffer) => {
    log += c.toString('utf8');
  });
  return Object.assign(hub, { log: () => log });
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe.runIf(process.platform === 'linux')('processes left by a hub killed with SIGKILL', () => {
  // Generous waits: under a full suite on two cores a hub's start alone can take seconds. The
  // property is that the orphans end, not how fast.
  it('are ended by the next start on the same data dir', { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const marker = `REAPER_${randomUUID().replaceAll('-', '')}`;
    const env = { REAPER_MARK: marker };
    const config = join(dir.path, 'first.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          // A tree whose server exits on EOF but leaves a grandchild behind (like npx → node → helpers).
          tree: { command: '/bin/sh', args: ['-c', `sleep 300 & exec "${process.execPath}" "${LIMITS_SERVER}"`], env },
          // A wrapper that outlives its server (the group leader stays).
          wrapper: { command: '/bin/sh', args: ['-c', `"${process.execPath}" "${LIMITS_SERVER}"; sleep 300`], env },
        },
      }),
    );
    const data = join(dir.path, 'data');
    const first = stdioHub(config, data);
    cleanup.push(() => first.kill('SIGKILL'));
    // Both spawned: the tree's server and sleep, the wrapper shell and its server.
    await eventually(() => marked(marker).length === 4 || undefined, 20_000, 50);
    // The precondition, checked rather than assumed: the registry holds both children before the kill.
    const spawnRecords = () => {
      const files = readdirSync(join(data, 'children'));
      return files.length === 1 ? (readFileSync(join(data, 'children', files[0]!), 'utf8').match(/"op":"spawn"/g) ?? []).length : 0;
    };
    await eventually(() => spawnRecords() === 2 || undefined, 5_000, 20);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // The hub is gone; stdin EOF ends the servers, but not the sleeps and the wrapper.
    await eventually(() => marked(marker).length === 3 || undefined, 10_000, 50);
    const orphans = marked(marker);
    cleanup.push(() =>
      orphans.forEach((p) => {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }),
    );

    const emptyConfig = join(dir.path, 'second.json');
    writeFileSync(emptyConfig, JSON.stringify({ mcpServers: {} }));
    const second = stdioHub(emptyConfig, data);
    cleanup.push(() => second.kill('SIGKILL'));
    // On a miss, say what the second hub logged and what the registry held, not only that time ran out.
    await eventually(() => marked(marker).length === 0 || undefined, 45_000, 50).catch((err: unknown) => {
      const records = readdirSync(join(data, 'children')).map((f) => `${f}: ${readFileSync(join(data, 'children', f), 'utf8')}`);
      throw new Error(`${String(err)}; still running: ${marked(marker).join(', ')}; second hub's log: ${second.log()}; records: ${records.join(' | ')}`);
    });
    // The dead hub's record is cleared; the new hub, with no servers, has written none.
    await eventually(() => readdirSync(join(data, 'children')).length === 0 || undefined, 5_000, 20);
    second.stdin!.end();
    expect(await new Promise((r) => second.once('exit', r))).toBe(0);
  });
});

describe.runIf(process.platform === 'linux')('ProcessRegistry', () => {
  function sleeper(): ChildProcess {
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    cleanup.push(() => child.kill('SIGKILL'));
    return child;
  }

  /** Writes the record a hub with this owner pid and start time would have left. */
  function leftRecord(data: string, owner: { pid: number; start: string }, children: Array<{ pid: number; start: string }>): string {
    mkdirSync(join(data, 'children'), { recursive: true });
    const file = join(data, 'children', `${owner.pid}-${owner.start}-0badc0de.jsonl`);
    const boot = bootId();
    const lines = [
      { op: 'owner', pid: owner.pid, start: owner.start, boot },
      ...children.map((c) => ({ op: 'spawn', pid: c.pid, pgid: c.pid, start: c.start, boot, command: 'sleep' })),
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    return file;
  }

  /** A process left by a dead hub (its record written) that ignores SIGTERM; `exited` resolves with the signal that ended it. */
  async function stubbornOrphan(data: string): Promise<{ stubborn: ChildProcess; file: string; exited: Promise<unknown> }> {
    const stubborn = spawn('/bin/sh', ['-c', "trap '' TERM; echo ready; sleep 300 & wait"], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    cleanup.push(() => stubborn.kill('SIGKILL'));
    // Only once the trap is set does SIGTERM do nothing (a loaded machine once sent it earlier).
    await new Promise((r) => stubborn.stdout!.once('data', r));
    await eventually(() => procStat(stubborn.pid!), 2_000, 10);
    const file = leftRecord(data, { pid: process.pid, start: '1' }, [{ pid: stubborn.pid!, start: procStat(stubborn.pid!)!.startTime }]);
    return { stubborn, file, exited: new Promise((r) => stubborn.once('exit', (_code, signal) => r(signal))) };
  }

  it('never signals a recorded pid that now names another process (start time differs)', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const stranger = sleeper();
    const real = procStat(stranger.pid!)!;
    // The owner's pid is ours, but with another start time: a hub that died and whose pid was reused.
    const file = leftRecord(dir.path, { pid: process.pid, start: '1' }, [{ pid: stranger.pid!, start: String(BigInt(real.startTime) - 1n) }]);
    const report = await new ProcessRegistry(dir.path, silentLogger(), 200).reapOrphans();
    expect(report).toEqual({ ended: [], skipped: [stranger.pid] });
    expect(alive(stranger.pid!)).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it('ends a recorded child whose start time matches, SIGKILLing it if SIGTERM is ignored', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const { stubborn, file, exited } = await stubbornOrphan(dir.path);
    const report = await new ProcessRegistry(dir.path, silentLogger(), 300).reapOrphans();
    expect(report).toEqual({ ended: [stubborn.pid], skipped: [] });
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(file)).toBe(false);
  });

  it('a hub that stops within the grace time SIGKILLs what ignored SIGTERM before it goes, rather than leave it running', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const { stubborn, file, exited } = await stubbornOrphan(dir.path);
    // A grace no test would wait out: only close() can end the reap in time.
    const registry = new ProcessRegistry(dir.path, silentLogger(), 10 * 60_000);
    const reaping = registry.reapOrphans();
    await registry.close();
    expect(await exited).toBe('SIGKILL');
    expect(await reaping).toEqual({ ended: [stubborn.pid], skipped: [] });
    expect(existsSync(file)).toBe(false);
  });

  it('a server that starts while the hub stops leaves no record once it has ended', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const registry = new ProcessRegistry(dir.path, silentLogger(), 200);
    await registry.close();
    const child = sleeper();
    registry.spawned(child.pid!, 'late-server');
    const children = join(dir.path, 'children');
    expect(readdirSync(children)).toHaveLength(1);
    child.kill('SIGTERM');
    await once(child, 'exit');
    registry.exited(child.pid!);
    expect(readdirSync(children)).toEqual([]);
  });

  it('leaves the record of a hub that is still running alone', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const child = sleeper();
    const self = procStat(process.pid)!;
    const file = leftRecord(dir.path, { pid: process.pid, start: self.startTime }, [{ pid: child.pid!, start: procStat(child.pid!)!.startTime }]);
    const report = await new ProcessRegistry(dir.path, silentLogger(), 200).reapOrphans();
    expect(report).toEqual({ ended: [], skipped: [] });
    expect(alive(child.pid!)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });
});

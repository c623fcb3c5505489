import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { makeDir } from '../../make-dir.js';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { allProcStats, bootId, HAS_PROC, procStat, type ProcStat } from './proc-stat.js';
import { signalEach, stillRunning, strayDescendants, withNew, type KnownProcess } from './process-tree.js';

/** Where a spawner records its children; ChildStdioTransport calls it on spawn, on finding strays, and on exit. */
export interface ChildRegistry {
  spawned(pid: number, command: string): void;
  /** Descendants of a running child that left its process group (process-tree.ts), to be ended with it. */
  strayed(pid: number, found: readonly KnownProcess[]): void;
  /** The strays known of a child: found by `strayed` or by the registry's own look while it ran. */
  strays(pid: number): KnownProcess[];
  exited(pid: number): void;
}

/** One line of a registry file. */
type Entry =
  | { op: 'owner'; pid: number; start: string | null; boot: string | null }
  | { op: 'spawn'; pid: number; pgid: number; start: string | null; boot: string | null; command: string }
  | { op: 'stray'; pid: number; of: number; start: string }
  | { op: 'exit'; pid: number };

/** A recorded child, with the strays recorded of it. */
type Spawned = Extract<Entry, { op: 'spawn' }> & { strays: KnownProcess[] };

/** What a reap ends: a recorded child's process group and its strays. */
interface Target {
  leader: number;
  pgid: number;
  start: string;
  strays: KnownProcess[];
}

export interface ReapReport {
  /** Process groups of a dead hub that were still running and were signalled. */
  ended: number[];
  /** Recorded children left alone: their pid now names another process, or identity is unknowable here. */
  skipped: number[];
}

const DIR = 'children';
/** SIGTERM first, as a graceful stop would; SIGKILL what still runs after this long. */
const REAP_GRACE_MS = 2000;
const POLL_MS = 50;
/**
 * How often the running children's strays are looked for. A look lists /proc once for all of them
 * (about 2 ms for 100 processes, so ~15 ms on a desktop with 800: a small fraction of one core at
 * this rate), and runs only while stdio children run on Linux. A stray started less than this
 * before its server crashes, or before the hub is killed with SIGKILL, is missed; a stop or a
 * restart the hub makes looks at that moment instead (ChildStdioTransport.close).
 */
const LOOK_MS = 5000;

/**
 * Records the downstream processes this hub spawns in `<dataDir>/children/`, one append-only file
 * per hub process, so that after a `kill -9` of the hub the next start on the data dir can end
 * what it left (Node has no PR_SET_PDEATHSIG, and our children run in their own process groups, so
 * nothing else would). A record holds the pid, its process group and its start time
 * (/proc/<pid>/stat field 22), and the child's strays (descendants that left its group, looked for
 * while it runs: process-tree.ts) by pid and start time: a pid the kernel has since given to
 * another process has another start time and is never signalled. Without /proc (macOS, Windows)
 * nothing is killed; records are only cleared.
 */
export class ProcessRegistry implements ChildRegistry {
  private readonly dir: string;
  private readonly file: string;
  private readonly boot = bootId() ?? null;
  private created = false;
  /** The reap in progress (reapOrphans), for `close` to finish it rather than leave its SIGKILLs unsent. */
  private reaping: Promise<ReapReport> | undefined;
  private hurried = false;
  /** Set by close(): a process that ends afterwards may leave the record with nothing live, to be removed. */
  private closed = false;
  /** This hub's running children, with the strays known of each. */
  private readonly running = new Map<number, KnownProcess[]>();
  private looking: NodeJS.Timeout | undefined;

  constructor(
    dataDir: string,
    private readonly log: Logger,
    private readonly graceMs = REAP_GRACE_MS,
  ) {
    this.dir = join(dataDir, DIR);
    const self = procStat(process.pid);
    // The random part keeps two hubs of one process (tests) on one data dir from sharing a file.
    this.file = join(this.dir, `${process.pid}-${self?.startTime ?? 'x'}-${randomBytes(4).toString('hex')}.jsonl`);
  }

  spawned(pid: number, command: string): void {
    const st = procStat(pid);
    this.append({ op: 'spawn', pid, pgid: st?.pgid ?? pid, start: st?.startTime ?? null, boot: this.boot, command: basename(command) });
    this.running.set(pid, []);
    if (HAS_PROC && !this.closed) this.looking ??= setInterval(() => this.lookForStrays(), LOOK_MS).unref();
  }

  strayed(pid: number, found: readonly KnownProcess[]): void {
    const known = this.running.get(pid);
    if (!known) return;
    const all = withNew(known, found);
    for (const p of all.slice(known.length)) this.append({ op: 'stray', pid: p.pid, of: pid, start: p.start });
    this.running.set(pid, all);
  }

  strays(pid: number): KnownProcess[] {
    return this.running.get(pid) ?? [];
  }

  /**
   * Looks for the strays of every running child in one listing of /proc, so that those of a child
   * that exits on its own (a crash), or that outlives a hub killed with SIGKILL, can still be ended:
   * after the child's exit they can no longer be found. Strays that have ended are forgotten.
   */
  lookForStrays(): void {
    if (this.running.size === 0) return;
    try {
      const stats = allProcStats();
      const alive = new Set(stats.map((p) => `${p.pid}:${p.startTime}`));
      const found = strayDescendants([...this.running.keys()], stats);
      for (const [pid, known] of this.running) {
        this.running.set(
          pid,
          known.filter((k) => alive.has(`${k.pid}:${k.start}`)),
        );
        this.strayed(pid, found.get(pid) ?? []);
      }
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not look for the processes downstream servers started');
    }
  }

  exited(pid: number): void {
    this.running.delete(pid);
    if (this.running.size === 0) this.stopLooking();
    this.append({ op: 'exit', pid });
    // A server still starting when the hub stopped was recorded after close() removed the file:
    // once it has ended too, nothing is left for the next start to find (it said "left by a hub
    // that did not stop" of a hub that did).
    if (this.closed && liveRecords(this.file).length === 0) this.remove();
  }

  /**
   * Removes this hub's record once its children are stopped. A reap still in its grace time ends
   * now: what did not take SIGTERM gets SIGKILL before this hub exits, rather than outliving it
   * (a process that ignores SIGTERM, and a hub that stops within the grace time).
   */
  async close(): Promise<void> {
    this.hurried = true;
    this.closed = true;
    this.stopLooking();
    await this.reaping?.catch(() => undefined);
    this.remove();
  }

  private stopLooking(): void {
    clearInterval(this.looking);
    this.looking = undefined;
  }

  private remove(): void {
    if (this.created) rmSync(this.file, { force: true });
    this.created = false;
  }

  /**
   * Ends the children of hubs on this data dir that are no longer running. Signals SIGTERM at
   * once (synchronously, before any new child is spawned), then SIGKILLs what is left after the
   * grace time; resolves when done.
   */
  reapOrphans(): Promise<ReapReport> {
    this.reaping ??= this.reap();
    return this.reaping;
  }

  private async reap(): Promise<ReapReport> {
    const report: ReapReport = { ended: [], skipped: [] };
    const files = this.deadOwnersFiles();
    const targets: Target[] = [];
    let stats: ProcStat[] | undefined;
    for (const file of files) {
      for (const rec of liveRecords(file)) {
        if (rec.start === null || rec.boot !== this.boot || this.boot === null) {
          report.skipped.push(rec.pid);
          // Said, so that a process left running can be told from one never recorded.
          this.log.info(
            { pid: rec.pid, command: rec.command },
            'a downstream process left by a hub that did not stop cannot be told from a newer one: left alone',
          );
          continue;
        }
        const target: Target = { leader: rec.pid, pgid: rec.pgid, start: rec.start, strays: rec.strays };
        // A server that outlived its hub still knows its children: strays it started after the
        // dead hub's last look are found now, before any signal orphans them.
        if (procStat(rec.pid)?.startTime === rec.start) {
          stats ??= allProcStats();
          target.strays = withNew(target.strays, strayDescendants([rec.pid], stats).get(rec.pid) ?? []);
        }
        if (!targetRuns(target)) {
          if (procStat(rec.pid)) report.skipped.push(rec.pid);
          this.log.info({ pid: rec.pid, pgid: rec.pgid, command: rec.command }, 'a downstream process left by a hub that did not stop has ended already');
          continue;
        }
        signalTarget(target, 'SIGTERM');
        targets.push(target);
        report.ended.push(rec.pgid);
        this.log.info({ pid: rec.pid, command: rec.command, strays: target.strays.length }, 'ending a downstream process left by a hub that did not stop');
      }
    }
    const deadline = Date.now() + this.graceMs;
    let left = targets;
    while (left.length > 0 && Date.now() < deadline && !this.hurried) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      left = left.filter(targetRuns);
    }
    for (const t of left) signalTarget(t, 'SIGKILL');
    for (const file of files) rmSync(file, { force: true });
    return report;
  }

  private deadOwnersFiles(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names) {
      const m = /^(\d+)-([^-]+)-[0-9a-f]+\.jsonl$/.exec(name);
      const file = join(this.dir, name);
      if (!m || file === this.file) continue;
      const pid = Number(m[1]);
      const owner = ownerOf(file);
      if (ownerAlive(pid, m[2]!, owner?.boot ?? null, this.boot)) continue;
      out.push(file);
    }
    return out;
  }

  private append(entry: Entry): void {
    try {
      if (!this.created) {
        // Private like the rest of the data dir: the records name the commands the hub runs.
        makeDir(this.dir, 0o700);
        const self = procStat(process.pid);
        appendFileSync(this.file, `${JSON.stringify({ op: 'owner', pid: process.pid, start: self?.startTime ?? null, boot: this.boot } satisfies Entry)}\n`, {
          mode: 0o600,
        });
        this.created = true;
      }
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
    } catch (err) {
      // Bookkeeping must never stop a server from starting; the cost is a possible orphan after a crash.
      this.log.warn({ err: String(err) }, 'could not record a downstream process');
    }
  }
}

function readEntries(file: string): Entry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (isEntry(e)) out.push(e);
    } catch {
      // A line cut short by the crash that left this file: the entries before it still count.
    }
  }
  return out;
}

function isEntry(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  if (!Number.isInteger(r['pid'])) return false;
  const start = r['start'] === null || typeof r['start'] === 'string';
  const boot = r['boot'] === null || typeof r['boot'] === 'string';
  if (r['op'] === 'exit') return true;
  if (r['op'] === 'owner') return start && boot;
  if (r['op'] === 'stray') return Number.isInteger(r['of']) && typeof r['start'] === 'string';
  return r['op'] === 'spawn' && Number.isInteger(r['pgid']) && start && boot && typeof r['command'] === 'string';
}

function ownerOf(file: string): Extract<Entry, { op: 'owner' }> | undefined {
  return readEntries(file).find((e): e is Extract<Entry, { op: 'owner' }> => e.op === 'owner');
}

function liveRecords(file: string): Spawned[] {
  const live = new Map<number, Spawned>();
  for (const e of readEntries(file)) {
    if (e.op === 'spawn') live.set(e.pid, { ...e, strays: [] });
    else if (e.op === 'stray') live.get(e.of)?.strays.push({ pid: e.pid, start: e.start });
    else if (e.op === 'exit') live.delete(e.pid);
  }
  return [...live.values()];
}

function ownerAlive(pid: number, start: string, ownerBoot: string | null, boot: string | null): boolean {
  if (start === 'x' || boot === null) {
    // No /proc: a live pid may be the owner or a stranger; keep the records rather than guess.
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (ownerBoot !== boot) return false;
  return procStat(pid)?.startTime === start;
}

/**
 * The live members of a recorded process group. While the leader exists (running or a zombie) it
 * must still be the recorded process (same start time), else the pid was reused and nothing is ours. Once the
 * leader has exited, Linux does not hand its number to a new process while the group still has
 * members, so members that started no earlier than the leader are the leader's descendants.
 */
function groupMembers(t: { pgid: number; start: string }, leader: number): number[] {
  const lead = procStat(leader);
  if (lead && lead.startTime !== t.start) return [];
  // A zombie leader (its parent, our dead hub, never reaped it) has exited: look for its group.
  if (lead && lead.state !== 'Z') return [leader];
  return allProcStats()
    .filter((p) => p.pgid === t.pgid && p.state !== 'Z' && BigInt(p.startTime) >= BigInt(t.start))
    .map((p) => p.pid);
}

function targetRuns(t: Target): boolean {
  return groupMembers(t, t.leader).length > 0 || t.strays.some(stillRunning);
}

function signalTarget(t: Target, signal: NodeJS.Signals): void {
  signalEach(t.strays, signal);
  if (groupMembers(t, t.leader).length === 0) return;
  try {
    process.kill(-t.pgid, signal);
  } catch {
    // ESRCH: gone between the check and the signal.
  }
}

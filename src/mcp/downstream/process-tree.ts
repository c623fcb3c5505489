import { allProcStats, procStat, type ProcStat } from './proc-stat.js';

/** A process by its pid and its start time: a pid the kernel has since given to another process has another start time. */
export interface KnownProcess {
  pid: number;
  start: string;
}

/**
 * The descendants of each root that have left the root's process group, found by parentage in
 * one listing of /proc: a helper started in its own session (`spawn(…, { detached: true })`, as
 * puppeteer starts Chrome) and whatever that helper started. Signalling the root's group does not
 * reach them, and once the root has exited they are re-parented to init and can no longer be told
 * from anyone else's processes, so they must be looked for while the root still runs. Members of
 * the root's own group are left out: the group signal reaches them, and a server that runs a
 * short-lived command per call would otherwise add a record on each look. Empty without /proc.
 */
export function strayDescendants(roots: readonly number[], stats: ProcStat[] = allProcStats()): Map<number, KnownProcess[]> {
  const byPid = new Map<number, ProcStat>();
  const children = new Map<number, ProcStat[]>();
  for (const p of stats) {
    byPid.set(p.pid, p);
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const out = new Map<number, KnownProcess[]>();
  for (const root of roots) {
    const lead = byPid.get(root);
    if (!lead || lead.state === 'Z') continue;
    const found: KnownProcess[] = [];
    // A set, though parentage is a tree: a listing read while processes come and go may not be one.
    const seen = new Set([root]);
    for (let queue = [root], pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
      for (const c of children.get(pid) ?? []) {
        if (seen.has(c.pid) || c.state === 'Z') continue;
        seen.add(c.pid);
        queue.push(c.pid);
        if (c.pgid !== lead.pgid) found.push({ pid: c.pid, start: c.startTime });
      }
    }
    if (found.length > 0) out.set(root, found);
  }
  return out;
}

/** Whether the process is still running and still the one found (same start time). Unknowable without /proc: no. */
export function stillRunning(p: KnownProcess): boolean {
  const st = procStat(p.pid);
  return st !== undefined && st.startTime === p.start && st.state !== 'Z';
}

/** Signals each of the processes that still runs as the one found; a reused pid is never signalled. */
export function signalEach(procs: readonly KnownProcess[], signal: NodeJS.Signals): void {
  for (const p of procs) {
    if (!stillRunning(p)) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // ESRCH: ended between the check and the signal.
    }
  }
}

/** `known` with the processes of `more` it does not hold yet. */
export function withNew(known: readonly KnownProcess[], more: readonly KnownProcess[]): KnownProcess[] {
  const out = [...known];
  for (const p of more) if (!out.some((k) => k.pid === p.pid && k.start === p.start)) out.push(p);
  return out;
}

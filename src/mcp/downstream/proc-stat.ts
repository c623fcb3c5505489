import { readdirSync, readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says of a process that identifies it beyond its reusable pid. */
export interface ProcStat {
  pid: number;
  /** Parent's pid (field 4): how a helper that left its parent's process group is still found. */
  ppid: number;
  /** Process group id (field 5). */
  pgid: number;
  /** Start time in clock ticks after boot (field 22): with the pid, unique until reboot. */
  startTime: string;
  /** R, S, D, Z (zombie), … (field 3). */
  state: string;
}

/** Whether this platform has /proc with the fields the reaper relies on (Linux). */
export const HAS_PROC = process.platform === 'linux';

/** Reads one process's stat, or undefined if it is gone (or this is not Linux). */
export function procStat(pid: number): ProcStat | undefined {
  if (!HAS_PROC) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStat(pid, text);
}

/** Every visible process: for the members of a process group whose leader has exited, and for a child's descendants. */
export function allProcStats(): ProcStat[] {
  if (!HAS_PROC) return [];
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (st) out.push(st);
  }
  return out;
}

/** The kernel's boot id: start times from another boot say nothing about this one's processes. */
export function bootId(): string | undefined {
  if (!HAS_PROC) return undefined;
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function parseStat(pid: number, text: string): ProcStat | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 of proc(5).
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(pgid) || !Number.isInteger(ppid)) return undefined;
  return { pid, ppid, pgid, startTime, state };
}

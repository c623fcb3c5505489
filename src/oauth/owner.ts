import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * The start time of a process, in clock ticks since boot: field 22 of /proc/<pid>/stat (proc(5)).
 * Together with the pid it names one process, since a pid is reused but never at the same tick.
 * Undefined where there is no /proc (macOS, Windows) or the process is gone.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces and ')': count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

const OWN_START = processStart(process.pid) ?? '-';
/** Owner ids minted by this process: a lease under one of them is held by a live instance here. */
const minted = new Set<string>();

/**
 * Identifies this process as a lease holder as `host:pid:start:instance`. The start time tells a
 * process from an earlier one that had the same pid — in a container the hub is PID 1 on every
 * start, so pid alone would make an earlier run's lease look alive until it expires.
 */
export function newOwnerId(): string {
  const id = `${hostname()}:${process.pid}:${OWN_START}:${randomBytes(4).toString('hex')}`;
  minted.add(id);
  return id;
}

/**
 * True only when the owner is known dead: a process on this host (the host name is taken to name
 * the pid namespace, as Docker and Kubernetes set it) whose pid no longer exists, or now belongs to
 * another process. Leases from before start times were recorded read as `host:pid:instance`.
 */
export function ownerIsDead(owner: string): boolean {
  const parts = owner.split(':');
  if (parts.length !== 3 && parts.length !== 4) return false;
  const [host, pidText] = parts;
  const start = parts.length === 4 ? parts[2] : undefined;
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  // Our own pid: a live instance of this process minted it, or an earlier process with this pid did.
  if (pid === process.pid) return !minted.has(owner);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  // The pid is in use: by the owner, unless that process started at another time (the pid was reused).
  const now = processStart(pid);
  return start !== undefined && start !== '-' && now !== undefined && now !== start;
}

import { readFileSync } from 'node:fs';

/**
 * CPU time per process, to turn "the hub is slower" into "the hub spends X ms of CPU per call".
 * On 2 shared cores throughput is CPU-bound, so CPU per call is the figure that explains a ratio
 * and the one least disturbed by other work on the machine.
 */
export type CpuSnapshot = Record<string, number>;

/** Linux reports utime/stime in USER_HZ ticks, which is 100 on every mainstream kernel build. */
const TICK_MS = 10;

/** User + system CPU milliseconds of a process from /proc, or undefined off Linux or once it exited. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is parenthesised and may hold spaces; fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read and write system calls a process has made (/proc/<pid>/io `syscr`, `syscw`; sockets and
 * pipes included), or undefined off Linux. Each one crosses into the kernel and a socket write
 * wakes its reader: a count per call is a figure no other load on the machine can disturb.
 */
export function processSyscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    const reads = field('syscr');
    const writes = field('syscw');
    return Number.isFinite(reads) && Number.isFinite(writes) ? { reads, writes } : undefined;
  } catch {
    return undefined;
  }
}

export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A sampler over named processes; `self` is this one (the load generator). */
export function cpuSampler(pids: Record<string, number | undefined>): () => CpuSnapshot {
  return () => {
    const snap: CpuSnapshot = { client: selfCpuMs() };
    for (const [name, pid] of Object.entries(pids)) {
      const ms = pid === undefined ? undefined : processCpuMs(pid);
      if (ms !== undefined) snap[name] = ms;
    }
    return snap;
  };
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const out: CpuSnapshot = {};
  for (const [k, v] of Object.entries(after)) {
    const b = before[k];
    if (b !== undefined) out[k] = v - b;
  }
  return out;
}

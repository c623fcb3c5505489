import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { HubError } from '../errors.js';

export const ROTATION_LOCK_FILE = 'master.key.lock';

const holderSchema = z.object({
  pid: z.number().int().positive(),
  /** The holder's start time as the kernel counts it (Linux /proc), so a reused pid is not taken for the holder. */
  start: z.string().nullable(),
  host: z.string(),
  since: z.string(),
  nonce: z.string(),
});
type Holder = z.infer<typeof holderSchema>;

export interface RotationLock {
  file: string;
  release(): void;
}

/**
 * Takes `<dataDir>/master.key.lock` for one `keys rotate`: each rotation reads master.key, writes
 * a new ring and prunes it from its own snapshot, so two at once drop each other's keys and the
 * data keys wrapped under them. The file is created with link(2), which fails on an existing name
 * on every file system (O_EXCL is unreliable on NFS). A lock whose holder process is gone (a
 * crash, a kill -9) is taken over; a live holder's makes this call fail, and nothing is changed.
 */
export function takeRotationLock(dataDir: string): RotationLock {
  const file = join(dataDir, ROTATION_LOCK_FILE);
  const me: Holder = {
    pid: process.pid,
    start: startTimeOf(process.pid),
    host: hostname(),
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const body = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, body)) {
      return {
        file,
        release: () => {
          // Only our own: a lock taken over from us (we were thought dead) is not ours to remove.
          if (readHolder(file)?.nonce === me.nonce) rmSync(file, { force: true });
        },
      };
    }
    const text = readText(file);
    if (text === undefined) continue; // released between our attempt and the read
    const holder = parseHolder(text);
    if (holder !== undefined && holderAlive(holder)) throw busy(file, holder);
    if (!takeOverStale(file, text)) {
      const now = readHolder(file);
      if (now !== undefined) throw busy(file, now);
    }
  }
  throw busy(file, readHolder(file));
}

function busy(file: string, holder: Holder | undefined): HubError {
  const who = holder === undefined ? 'another process' : `process ${holder.pid} on ${holder.host}, since ${holder.since}`;
  return new HubError(
    'store_failed',
    `keys rotate: another rotation holds ${file} (${who}); nothing was changed. Wait for it to finish and run this again — ` +
      `remove ${file} only if no "switchboard keys rotate" is running on this data dir`,
  );
}

function createExclusive(file: string, body: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, body, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new HubError('store_failed', `keys rotate: cannot create the lock ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Moves the stale lock aside (rename is atomic) and removes it only if it is still the one judged
 * stale: two processes taking over at once must not remove the lock the quicker one just made.
 * A fresh lock moved aside by mistake is linked back. False when the lock was not the stale one.
 */
function takeOverStale(file: string, staleText: string): boolean {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = readText(aside);
  if (moved === staleText) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, file);
  } catch {
    // A third process made a lock meanwhile: it holds the lock, and this one gives up below.
  }
  rmSync(aside, { force: true });
  return false;
}

function holderAlive(holder: Holder): boolean {
  // Another host's process cannot be checked from here: assume it runs.
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = startTimeOf(holder.pid);
  return holder.start === null || start === null || start === holder.start;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised name, which may hold spaces); null off Linux. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const parsed = holderSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function readHolder(file: string): Holder | undefined {
  const text = readText(file);
  return text === undefined ? undefined : parseHolder(text);
}

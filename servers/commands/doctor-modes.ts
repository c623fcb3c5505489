import { type Stats, statSync } from 'node:fs';
import { join } from 'node:path';

type Check = { ok: boolean; line: string };

/** The files of a data dir that hold a secret in the clear: the master keys, and the first admin token until it is deleted. */
const SECRET_FILES = ['master.key', 'admin-token'];

/**
 * The data dir's secrets that others on this machine can read or write. The hub makes each one
 * 0600; one written by hand (`echo KEY > master.key`) or restored from a copy gets the umask's
 * 0644, and the hub reads it as it is. Said as a problem, with the chmod that fixes it; nothing is
 * changed. (The databases hold tokens hashed and secrets sealed under the master key.)
 */
export function openFilesCheck(dataDir: string, platform: NodeJS.Platform = process.platform): Check | undefined {
  // Windows has no such mode bits (Node reports 0666 for every writable file).
  if (platform === 'win32') return undefined;
  const dir = statOf(dataDir);
  // Not made yet, not a folder, or not to be read (said by the data dir check).
  if (dir?.isDirectory() !== true) return undefined;
  const dirMode = dir.mode;
  // A file's group and other bits matter only to those who may enter the folder (0700 keeps everyone out).
  const reachable = (dirMode & 0o010 ? 0o060 : 0) | (dirMode & 0o001 ? 0o006 : 0);
  const open = SECRET_FILES.flatMap((name) => {
    const st = statOf(join(dataDir, name));
    return st?.isFile() === true && (st.mode & reachable) !== 0 ? [`${name} (${(st.mode & 0o777).toString(8).padStart(4, '0')})`] : [];
  });
  if (open.length === 0) return undefined;
  return {
    ok: false,
    line: `data dir: ${open.join(', ')} can be read or written by other users of this machine; the hub makes them 0600: chmod 600 ${open.map((o) => join(dataDir, o.split(' ')[0]!)).join(' ')}`,
  };
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES
  }
}

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdirSync(path, { recursive: true, mode })`, returning the first folder it created (undefined
 * when `path` was there already), without Node's recursive mkdir: on a parent that exists but
 * cannot hold folders (`/proc`, some FUSE mounts) that one retries for ever, so `--data /proc/x`
 * hung every command. Here each level is made once, and a level that cannot be made fails with
 * its path.
 */
export function makeDir(path: string, mode?: number): string | undefined {
  const options = mode === undefined ? undefined : { mode };
  try {
    mkdirSync(path, options);
    return path;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(path).isDirectory()) return undefined;
    // Node's "EEXIST: file already exists, mkdir" reads as if the folder were there: say what is.
    if (code === 'EEXIST') throw Object.assign(new Error(`${path} is a file, not a folder`), { code: 'ENOTDIR', path });
    // Only a missing parent is made first; ENOENT with the parent there (or at the root) is final.
    if (code !== 'ENOENT' || dirname(path) === path || exists(dirname(path))) throw err;
  }
  const first = makeDir(dirname(path), mode);
  mkdirSync(path, options);
  return first ?? path;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
// A namespace import: vm.constants is missing before Node 20.12, where a named import would not even link.
import * as vm from 'node:vm';

/**
 * A CommonJS script (the stdio bundle, scripts/bundle-stdio.ts) compiled with V8's code cache.
 *
 * Node 20 keeps no compiled code between runs, so every `switchboard stdio` parsed its ~3.5 MB of
 * JavaScript and compiled each function the start runs, and a desktop client waited for it. The
 * cache holds that bytecode as of the first tools/list answer; the next start reads it instead (V8
 * checks that the source, the V8 version and its flags are the ones it was made with, and compiles
 * afresh otherwise). `npm run bench:proxy` prints the cold start with it.
 *
 * The cache file sits beside the script (dist/bundle/stdio.cjs.cache); SWITCHBOARD_CODE_CACHE
 * names another file, or `off`. A rebuild deletes it with the bundle. An install the hub cannot
 * write to starts as if there were none, every time.
 *
 * The cache is code the hub runs: V8 checks only that it fits the script, not who made it. So it
 * is written readable and writable by its owner alone, and one that another user owns or may
 * write (a file someone planted where SWITCHBOARD_CODE_CACHE points) is not read but replaced.
 */

/** What this start found: a cache V8 took, one it refused (stale), one not read (not this user's alone), none, or caching off. */
export type CodeCacheState = 'used' | 'rejected' | 'untrusted' | 'absent' | 'off';

export interface LoadedScript<T> {
  exports: T;
  cache: CodeCacheState;
  /** Writes the cache from what has run so far, once, when this start had none V8 took. Never throws. */
  save(): void;
}

/**
 * Whether this Node can run the bundle: it must require ES modules (oidc-provider is one; Node
 * 20.19 on) and let a vm script import() through the main loader (20.12 on).
 */
export function canLoadBundle(): boolean {
  return (
    (process.features as { require_module?: boolean }).require_module === true &&
    (vm.constants as typeof vm.constants | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER !== undefined
  );
}

/** The cache file for `script`: SWITCHBOARD_CODE_CACHE, else beside it; undefined when off. */
export function cacheFileFor(script: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env['SWITCHBOARD_CODE_CACHE'];
  if (chosen === 'off') return undefined;
  return chosen || `${script}.cache`;
}

/** Runs `file` as a CommonJS module of its own, compiled from `cacheFile` when V8 takes it. */
export function loadScript<T>(file: string, cacheFile: string | undefined): LoadedScript<T> {
  const source = readFileSync(file, 'utf8');
  const found = cacheFile === undefined ? undefined : readOwnFile(cacheFile);
  const cached = found === 'untrusted' ? undefined : found;
  // Node's own CommonJS wrapper, on the script's first line so its line numbers stay true.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: file,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    ...(cached === undefined ? {} : { cachedData: cached }),
  });
  const cache: CodeCacheState =
    cacheFile === undefined ? 'off' : found === 'untrusted' ? 'untrusted' : cached === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used';
  const module = { exports: {} as T };
  const wrapper = script.runInThisContext() as (exports: T, require: NodeJS.Require, module: { exports: T }, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  let done = cache === 'used' || cache === 'off';
  return {
    exports: module.exports,
    cache,
    save() {
      if (done || cacheFile === undefined) return;
      done = true;
      // Written aside and renamed: starts running side by side never read half a file.
      const aside = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(aside, script.createCachedData(), { mode: 0o600 });
        renameSync(aside, cacheFile);
      } catch {
        // A read-only install: the next start compiles, as it would without a cache.
        rmSync(aside, { force: true });
      }
    },
  };
}

/** The file's bytes when this user owns it and no one else may write it; `untrusted` otherwise; undefined when there is none. */
function readOwnFile(file: string): Buffer | 'untrusted' | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    // Windows has no owners or modes to check here (process.getuid is absent there).
    if (process.getuid && (st.uid !== process.getuid() || (st.mode & 0o022) !== 0)) return 'untrusted';
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

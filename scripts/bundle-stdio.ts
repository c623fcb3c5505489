/**
 * Bundles `switchboard stdio` into dist/bundle/stdio.cjs (run by `npm run build` after tsc).
 *
 * A desktop client waits for the stdio face's first tools/list, and most of that wait was Node
 * loading ~350 ES modules one file at a time (resolve, stat, read, compile each), then compiling
 * what they run. The bundle is one CommonJS script so that servers/code-cache.ts can compile it
 * with V8's code cache: the bytecode of what the last start ran, kept beside the bundle, saves the
 * parse and most of the compilation (Node 20 caches no ES modules). Modules reached only by a
 * dynamic import() (the HTTP stack, the MCP client, PostgreSQL) are in the script but stay
 * uninitialised, and unparsed beyond a pre-parse, until something imports them. One warm-up start
 * (warmUp, below) writes the cache, so the first real start finds it too. servers/cli.ts
 * loads it for `stdio` and falls back to the unbundled modules when it is missing (a tsc-only
 * build) or when Node cannot require ES modules (oidc-provider is one; Node 20.19 on can).
 *
 *   node dist/scripts/bundle-stdio.js
 *
 * dist/bundle/meta.json is esbuild's metafile: which module went into the script, and its size.
 *
 * Packages stay external when they are native (better-sqlite3) or not loaded before the first
 * answer (express, PostgreSQL, Redis, ...: required from node_modules when used). The ES-module
 * trees (ours, zod's, the MCP SDK's) and pino, which every start loads, are bundled: their
 * compiled code then comes from the code cache too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = join(ROOT, 'dist/bundle');

/** Native, or not needed before the first answer: required at run time from node_modules, as without a bundle. */
const EXTERNAL = ['better-sqlite3', 'bottleneck', 'cookie', 'express', 'ioredis', 'jsonc-parser', 'oidc-provider', 'pg', 'prom-client', 'simple-oauth2'];

/**
 * zod re-exports its ~40 error-message locales as `z.locales`, a third of its size (~370 kB that
 * every start would parse). The hub uses only the English messages zod installs by default, so the
 * bundle's `locales` namespace holds `en` alone.
 */
const englishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: join(args.resolveDir, '../locales/en.js'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

/**
 * The external packages that are ES modules (oidc-provider): the bundle require()s them, and Node
 * (20.19 on) returns the module namespace, marked `__esModule`. esbuild's interop for an importer
 * in a "type": "module" package ignores that mark and makes `default` the whole namespace, as
 * Node does for a CommonJS module's module.exports, so `import Provider from 'oidc-provider'` was
 * the namespace and every authorization-server request of a `stdio` hub answered 500 ("is not a
 * constructor"). Their imports go through a module of the plugin's own, outside any package, whose
 * interop reads the mark: `default` is the module's default export, as under Node's own loader.
 */
const esModuleExternals: Plugin = {
  name: 'es-module-externals',
  setup(b) {
    const names = EXTERNAL.filter((name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).type === 'module');
    // npm names hold no regular-expression syntax but the dot.
    const filter = new RegExp(`^(?:${names.map((n) => n.replaceAll('.', '\\.')).join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.namespace === 'es-module-external' ? { path: args.path, external: true } : { path: args.path, namespace: 'es-module-external' },
    );
    b.onLoad({ filter: /.*/, namespace: 'es-module-external' }, (args) => ({
      contents: `export * from ${JSON.stringify(args.path)};\nexport { default } from ${JSON.stringify(args.path)};`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { stdio: 'dist/servers/stdio-entry.js' },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  plugins: [englishOnly, esModuleExternals],
  // A CommonJS script has no import.meta: the bundled modules' uses of it name the script itself,
  // as they named their chunk in an ES-module bundle (the script sits where the chunks did).
  define: { 'import.meta.url': '__bundle_url', 'import.meta.dirname': '__dirname', 'import.meta.filename': '__filename' },
  banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  // Without the comments and indentation of ~350 modules the script is a quarter smaller, which
  // every start reads, hashes against the code cache and pre-parses (~12 ms, bench/startup.ts).
  // Names stay, so a stack trace still says which function; stdio.cjs.map maps it to the source.
  minifyWhitespace: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
asciiOnly(join(OUT, 'stdio.cjs'));
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.cjs'))
  .reduce((sum, [, o]) => sum + o.bytes, 0);
process.stdout.write(`bundled switchboard stdio into dist/bundle/stdio.cjs (${Math.round(bytes / 1024)} kB of JavaScript)\n`);
process.stdout.write(`${await warmUp()}\n`);

/**
 * Leaves the script ASCII alone. esbuild writes the code itself in ASCII (its default charset
 * escapes strings, regular expressions and names) but keeps comments as written, and the few `§`
 * and `—` in them made Node read the whole script as a two-byte string: twice the memory, and
 * slower to decode, to check against the code cache and to scan — ~20 ms of every start
 * (`node dist/bench/startup.js`). An escape in a comment reads as well.
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8');
  // All but printable ASCII and line ends, per UTF-16 unit as \uXXXX: the one escape that means the
  // same in strings, templates and regular expressions with or without the u flag, should one reach code.
  const ascii = text.replace(/[^ -~\t\n\r]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

/**
 * One start of the bundle as a desktop client makes it (the CLI, the embedded default config, a
 * first tools/list), so that the first real start after a build already finds the code cache
 * (servers/code-cache.ts) instead of writing it. A failure here costs that one start its cache,
 * nothing else: it is reported, not fatal.
 */
async function warmUp(): Promise<string> {
  const cache = join(OUT, 'stdio.cjs.cache');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-warm-up-'));
  const { SWITCHBOARD_CODE_CACHE: _elsewhere, ...env } = process.env;
  // In a folder of its own: no config file of the repository is picked up, so the default config runs.
  const child = spawn(process.execPath, [join(ROOT, 'dist/servers/cli.js'), 'stdio', '--no-http', '--data', join(dir, 'data')], {
    cwd: dir,
    env,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const lines = [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'build', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
  ];
  child.stdin.on('error', () => {});
  child.stdin.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  try {
    for (let waited = 0; waited < 15_000 && !existsSync(cache); waited += 50) {
      if (child.exitCode !== null) return `no code cache: the warm-up start exited (code ${child.exitCode})`;
      await sleep(50);
    }
    return existsSync(cache)
      ? `wrote its code cache (${Math.round(statSync(cache).size / 1024)} kB)`
      : 'no code cache: the warm-up start wrote none within 15 s';
  } finally {
    child.kill();
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

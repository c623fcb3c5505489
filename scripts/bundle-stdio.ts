/**
 * Bundles `switchboard stdio` into dist/bundle/ (run by `npm run build` after tsc).
 *
 * A desktop client waits for the stdio face's first tools/list, and most of that wait was Node
 * loading ~350 ES modules one file at a time (resolve, stat, read, compile each): a bundle is a
 * handful of files, with every dynamic import() left a chunk of its own so what the first answer
 * does not need (the HTTP stack, the MCP client, PostgreSQL) is still not read. servers/cli.ts loads
 * it for `stdio` and falls back to the unbundled modules when it is missing (a tsc-only build).
 *
 *   node dist/scripts/bundle-stdio.js
 *
 * dist/bundle/meta.json is esbuild's metafile: which module went into which file, and its size.
 *
 * Packages stay external when they are CommonJS (loaded through require, which a bundle gains
 * nothing on) or native (better-sqlite3): only the ES-module trees, ours, zod's and the MCP SDK's,
 * are bundled.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = join(ROOT, 'dist/bundle');

/** CommonJS or native dependencies: required at run time from node_modules, as without a bundle. */
const EXTERNAL = [
  'better-sqlite3',
  'bottleneck',
  'cookie',
  'express',
  'ioredis',
  'jsonc-parser',
  'oidc-provider',
  'pg',
  'pino',
  'prom-client',
  'simple-oauth2',
];

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

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { stdio: 'dist/servers/stdio-entry.js' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  plugins: [englishOnly],
  // CommonJS code inside the bundled trees (the MCP client's cross-spawn) calls require.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((sum, [, o]) => sum + o.bytes, 0);
process.stdout.write(`bundled switchboard stdio into dist/bundle (${Math.round(bytes / 1024)} kB of JavaScript)\n`);

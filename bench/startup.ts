/**
 * Where the stdio face's start-up time goes. Each sample is a fresh process that repeats the steps
 * of `switchboard stdio` with timing marks: Node's own bootstrap, each module group in the order
 * the CLI loads it (marginal cost: what is already loaded is not counted twice), the store, and
 * the handshake. A second table times each heavy package alone in a fresh process, and the bundle
 * the CLI really runs `stdio` from (dist/bundle/stdio.cjs, scripts/bundle-stdio.ts): the first table
 * loads the modules one by one, which is what the bundle saves.
 *
 *   node dist/bench/startup.js [--runs 7]
 *
 * The end-to-end figure users see is `bench:proxy`'s cold start; this one explains it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { tmpDir } from './processes.js';
import { median } from './stats.js';

type Marks = Array<[string, number]>;

/** Relative value imports of a compiled module, in source order (type-only ones are erased by tsc). */
function localImports(source: string): string[] {
  return [...source.matchAll(/^import\s[^'"]*?['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]!);
}

async function child(dataDir: string): Promise<Marks> {
  // performance.now() counts from process start, so the first mark is Node's bootstrap plus this file.
  const marks: Marks = [['node bootstrap + entry script', performance.now()]];
  let last = performance.now();
  const mark = (name: string) => {
    const now = performance.now();
    marks.push([name, now - last]);
    last = now;
  };
  // hub.ts's own imports, one at a time in its order: each mark is what that module adds on top of
  // everything before it, so the heavy subsystems stand out by path without a list to maintain.
  const hubUrl = new URL('../src/hub.js', import.meta.url);
  for (const spec of localImports(readFileSync(hubUrl, 'utf8'))) {
    await import(new URL(spec, hubUrl).href);
    mark(`import ${spec.replace(/^\.\//, 'src/')}`);
  }
  const { Hub } = await import('../src/hub.js');
  const { localIdentity } = await import('../src/identity/identity.js');
  const { loadConfig } = await import('../src/config/load.js');
  const { createLogger } = await import('../src/observability/logger.js');
  const { HubMetrics } = await import('../src/observability/metrics.js');
  const { openDb } = await import('../src/store/db.js');
  const { hostedSandbox } = await import('../servers/sandbox/hosted.js');
  mark('import src/hub.js itself + config loader');

  const { config } = loadConfig({ cwd: dataDir });
  config.dataDir = join(dataDir, 'data');
  const log = createLogger({ level: config.logLevel, destination: new PassThrough().resume() });
  mark('load config + logger');
  new HubMetrics({ defaultMetrics: true });
  mark('new HubMetrics (default collectors)');
  openDb({ file: join(config.dataDir, 'switchboard.db'), clock: { now: () => Date.now() } }).close();
  mark('open store + migrate (fresh file)');
  const hub = new Hub({ config, log, hosted: [hostedSandbox()] });
  mark('new Hub (store reopened, metrics, catalog)');

  const input = new PassThrough();
  const output = new PassThrough();
  hub.serveStdio(localIdentity('bench'), { input, output });
  void hub.start();
  mark('serve stdio + start sources');
  const answered = new Promise<void>((res) => {
    let buf = '';
    output.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      if (buf.includes('"id":2')) res();
    });
  });
  input.write(
    [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
    ]
      .map((m) => `${JSON.stringify(m)}\n`)
      .join(''),
  );
  await Promise.race([answered, new Promise((_, rej) => setTimeout(() => rej(new Error('no tools/list answer in 10 s')), 10_000).unref())]);
  mark('initialize + tools/list answered');
  marks.push(['total (process start → answer)', performance.now()]);
  await hub.stop();
  return marks;
}

/** Packages timed alone, each in a fresh process: what dropping or deferring one would save. */
const PACKAGES = [
  'zod',
  'pino',
  'prom-client',
  'better-sqlite3',
  '@modelcontextprotocol/server',
  '@modelcontextprotocol/server/stdio',
  '@modelcontextprotocol/client',
  'express',
  '@modelcontextprotocol/node',
  '@modelcontextprotocol/express',
  // Everything `switchboard stdio` loads before it runs, in the one bundle the CLI loads (with its code cache).
  new URL('../bundle/stdio.cjs', import.meta.url).href,
];

/** Loads the bundle as servers/cli.ts does: compiled with its code cache beside it, when there is one. */
function loadBundle(url: string): string {
  const loader = JSON.stringify(new URL('../servers/code-cache.js', import.meta.url).href);
  return `const { loadScript, cacheFileFor } = await import(${loader}); const f = new URL(${JSON.stringify(url)}).pathname; loadScript(f, cacheFileFor(f));`;
}

function importAlone(pkg: string): number {
  const load = pkg.endsWith('.cjs') ? loadBundle(pkg) : `await import(${JSON.stringify(pkg)});`;
  const code = `const t = performance.now(); ${load} process.stdout.write(String(performance.now() - t));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: import.meta.dirname, encoding: 'utf8', timeout: 30_000 });
  const ms = Number(r.stdout);
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`importing ${pkg} failed: ${r.stderr.slice(0, 300)}`);
  return ms;
}

function parent(runs: number): void {
  const samples = new Map<string, number[]>();
  const alone = new Map<string, number[]>(PACKAGES.map((p) => [p, []]));
  const work = tmpDir('switchboard-startup-');
  try {
    for (let i = 0; i < runs; i++) {
      const dir = join(work.path, `run-${i}`);
      const r = spawnSync(process.execPath, [join(import.meta.dirname, 'startup.js'), '--child', dir], { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`startup child failed: ${r.stderr.slice(0, 500)}`);
      const marks = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Marks;
      for (const [name, ms] of marks) samples.set(name, [...(samples.get(name) ?? []), ms]);
      // Interleaved with the chain runs so both tables see the same machine load.
      for (const p of PACKAGES) alone.get(p)!.push(importAlone(p));
    }
  } finally {
    work.remove();
  }
  // The bundle's row is named by its path in the repository, not by its file URL.
  const label = (name: string) => (name.startsWith('file:') ? name.slice(name.lastIndexOf('/dist/') + 1) : name);
  const rows = (m: Map<string, number[]>) => [...m].map(([name, v]) => `${median(v).toFixed(0).padStart(6)} ms  ${label(name)}`);
  process.stdout.write(
    [
      `stdio start-up, steps of \`switchboard stdio\` in order (median of ${runs} fresh processes, fresh data dir)`,
      ...rows(samples),
      '',
      'each package imported alone in a fresh process (median; shared dependencies such as zod count in each)',
      ...rows(alone),
      '',
    ].join('\n'),
  );
}

const { values, positionals } = parseArgs({
  options: { child: { type: 'boolean', default: false }, runs: { type: 'string', default: '7' } },
  allowPositionals: true,
});
if (values.child) {
  const marks = await child(positionals[0] ?? tmpDir('switchboard-startup-').path);
  process.stdout.write(`${JSON.stringify(marks)}\n`);
  // Timers of the default metrics collectors would keep the process alive.
  process.exit(0);
} else {
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error(`--runs ${values.runs}: expected 1–100`);
  parent(runs);
}

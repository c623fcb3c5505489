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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configSchema } from '../src/config/schema.js';
import { Hub } from '../src/hub.js';
import { silentLogger } from '../src/observability/logger.js';
import {
  authProxy,
  closeServer,
  ensureSuiteInstalled,
  listen,
  readScenarioChecks,
  REQUIREMENT_SETS,
  runSuite,
  SUITE_DIR,
  type RequirementSet,
  type Upstream,
} from './conformance-suite.js';

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

function suiteArgs(set: RequirementSet, scenario: string | undefined): string[] {
  const args = ['--expected-failures', baselineFile(set)];
  return scenario ? [...args, '--scenario', scenario, '--spec-version', set] : [...args, '--requirements', set];
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
  for (const { scenario, checks } of readScenarioChecks(outDir)) {
    const statuses = checks.map((c) => c.status);
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
  upstream.token = (await hub.tokens.create({ user: 'conformance' })).token;
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
      const code = await runSuite({ url: `http://127.0.0.1:${proxyPort}/mcp`, outDir, args: suiteArgs(set, values.scenario), output: 'inherit' });
      results.push(tally(set, outDir, code, (performance.now() - started) / 1000));
    }
  } finally {
    closeServer(proxy);
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
    console.log(
      `${r.set}: ${r.passed.length}/${total} scenarios passed, ${r.failed.length} failed, ${r.empty.length} ran no checks (${r.seconds.toFixed(0)} s) — ${good ? 'as the baseline expects' : 'NOT as the baseline expects'}`,
    );
    if (r.failed.length > 0) console.log(`  failed: ${r.failed.sort().join(', ')}`);
    if (r.empty.length > 0) console.log(`  no checks: ${r.empty.sort().join(', ')}`);
    if (r.unexpected.length > 0) console.log(`  UNEXPECTED failures (not in ${baselineFile(r.set)}): ${r.unexpected.sort().join(', ')}`);
    if (r.stale.length > 0) console.log(`  STALE baseline entries (now passing; remove them): ${r.stale.sort().join(', ')}`);
    if (r.suiteExitCode !== 0) console.log(`  the suite itself exited with ${r.suiteExitCode}`);
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});

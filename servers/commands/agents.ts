import type { AgentConfig } from '../../src/definition/agents.js';
import { publicUrlOf } from '../../src/config/public-url.js';
import { configFromFlags, parse, printable, progress, str, UsageError } from '../common.js';
import { canary } from './agents-canary.js';
import { scrapeAgents, type LiveAgent } from './agents-scrape.js';

export const AGENTS_USAGE = `usage: switchboard agents list [--url HUB] [--token T] [--json]
       switchboard agents canary <agent> --candidate <agent-id> --cases cases.jsonl [--threshold 0.95] [--json]

list     each agent's protocol, pinned version, mode, and from the running hub (its /metrics:
         --url, else the config's server.publicUrl or host:port; a token with the metrics scope
         beyond loopback, --token or SWITCHBOARD_TOKEN) its breaker and recent error rate
canary   runs the pinned and the candidate agent id on each case (JSONL: {"input": {...},
         "expect"?: {"<json path>": value}}), prints pass rates and latency p50/p95, and exits 0
         when the candidate's pass rate is at least --threshold × the pinned one's, 1 when not,
         2 on bad usage or input`;

/**
 * The version an entry is pinned to: its agent id, else (kore, http without one) its URL without
 * its query, which may carry a key (`?key=…`): the list is printed, pasted and logged.
 */
export function pinnedOf(a: AgentConfig): string {
  if (a.agentId !== undefined) return a.agentId;
  if (!('url' in a)) return '-';
  const q = a.url.search(/[?#]/);
  return q < 0 ? a.url : `${a.url.slice(0, q)}?…`;
}

export function modeOf(a: AgentConfig): string {
  if (a.protocol === 'upagents') return a.mode;
  if (a.protocol === 'kore') return a.async ? 'async' : a.stream ? 'stream' : 'sync';
  return 'sync';
}

export async function agentsCommand(argv: string[]): Promise<void> {
  const { flags, positionals } = parse(
    argv,
    {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      candidate: { type: 'string' },
      cases: { type: 'string' },
      threshold: { type: 'string' },
    },
    {
      command: 'agents',
      usage: AGENTS_USAGE,
      takes: { list: 0, canary: 1 },
      // --user, common to every command, is taken and changes nothing: the agents are every user's.
      flags: { list: ['url', 'token', 'json', 'user'], canary: ['candidate', 'cases', 'threshold', 'json', 'user'] },
    },
  );
  const [sub, ...rest] = positionals;
  if (flags['help'] || sub === undefined) {
    process.stdout.write(`${AGENTS_USAGE}\n`);
    return;
  }
  if (sub === 'canary') {
    process.exitCode = await canary(rest, flags);
    return;
  }
  const url = str(flags['url']);
  if (url !== undefined) checkHubUrl(url);
  await list(flags);
}

interface Row {
  agent: string;
  protocol: string;
  version: string;
  mode: string;
  disabled: boolean;
  breaker: string;
  recentRequests: number | null;
  recentErrors: number | null;
  recentErrorRate: number | null;
}

async function list(flags: Record<string, string | boolean | undefined>): Promise<void> {
  // It reads the config and a running hub's /metrics, no store: the per-user data dir is not made.
  const { config } = configFromFlags(flags, { quiet: true, makeNothing: true });
  const entries = Object.entries(config.agents);
  const hubUrl = hubBase(str(flags['url'])) ?? publicUrlOf(config.server);
  const token = str(flags['token']) ?? process.env['SWITCHBOARD_TOKEN'];
  const live =
    entries.length === 0
      ? undefined
      : hubUrl === undefined
        ? { ok: false as const, url: '-', why: 'server.port is 0 and no server.publicUrl: pass --url of the running hub' }
        : await scrapeAgents(hubUrl, token);
  if (live && !live.ok) progress(printable(`breaker and error rate unknown: ${live.why}`));
  const rows: Row[] = entries.map(([agent, a]) => {
    const seen: LiveAgent | undefined = live?.ok ? live.agents.get(agent) : undefined;
    return {
      agent,
      protocol: a.protocol,
      version: pinnedOf(a),
      mode: modeOf(a),
      disabled: a.disabled,
      // A configured agent the running hub does not report was not loaded by it (another config, or disabled).
      breaker: a.disabled ? 'disabled' : seen ? seen.breaker : live?.ok ? 'not loaded by the hub' : 'unknown',
      recentRequests: seen ? seen.recentRequests : null,
      recentErrors: seen ? seen.recentErrors : null,
      recentErrorRate: seen && seen.recentRequests > 0 ? seen.recentErrors / seen.recentRequests : null,
    };
  });
  if (flags['json']) {
    process.stdout.write(`${JSON.stringify({ hub: live ? { url: live.url, reachable: live.ok } : null, agents: rows }, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no agents configured\n');
    return;
  }
  const table = [
    ['AGENT', 'PROTOCOL', 'VERSION', 'MODE', 'BREAKER', 'ERRORS (5 MIN)'],
    // Escaped before the widths are measured: an escape is wider than the character it stands for.
    ...rows.map((r) => [r.agent, r.protocol, r.version, r.mode, r.breaker, recent(r)].map(printable)),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
}

function recent(r: Row): string {
  if (r.recentRequests === null || r.recentErrors === null) return '-';
  if (r.recentRequests === 0) return 'no calls';
  return `${r.recentErrors}/${r.recentRequests} (${((r.recentErrors / r.recentRequests) * 100).toFixed(1)}%)`;
}

/**
 * The hub's base URL from `--url`: the URL a client is given (`…/mcp`) or the metrics URL itself
 * (`…/metrics`) name the same hub, where `/metrics` put after them scraped a 404.
 */
function hubBase(url: string | undefined): string | undefined {
  return url?.replace(/\/(?:mcp|metrics)\/?$/, '');
}

/**
 * `--url` is the hub's base URL, as `server.publicUrl` is: `/metrics` is put after it, so a query,
 * a fragment or credentials (which fetch refuses, and the error then echoed) would make no URL to
 * scrape, and a word that is no URL only "no hub answers". A usage mistake (exit 2) instead.
 */
function checkHubUrl(url: string): void {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  const why =
    u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:')
      ? "expected the running hub's http(s) URL (http://127.0.0.1:8787)"
      : u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== ''
        ? 'the hub URL takes no query, fragment or credentials (a token goes in --token or SWITCHBOARD_TOKEN)'
        : undefined;
  if (why !== undefined) throw new UsageError('agents', `--url ${u === undefined ? url : `${u.protocol}//${u.host}${u.pathname}`}: ${why}`, AGENTS_USAGE);
}

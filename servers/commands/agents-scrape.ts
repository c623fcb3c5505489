import { describeError } from '../../src/errors.js';
import type { BreakerState } from '../../src/outbox/breaker.js';

/** One sample of the Prometheus text format: `name{label="value",…} number`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a /metrics answer (exposition format 0.0.4; comments and blank lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels include `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((acc, s) => acc + s.value, 0);
}

/** What a running hub recorded of one agent. */
export interface LiveAgent {
  breaker: BreakerState;
  recentRequests: number;
  recentErrors: number;
}

export type LiveState = { ok: true; url: string; agents: Map<string, LiveAgent> } | { ok: false; url: string; why: string };

const GAUGE_STATE: Record<number, BreakerState> = { 0: 'closed', 1: 'half_open', 2: 'open' };

/**
 * Breakers and recent error counts live in the running hub's memory: `agents list` reads them from
 * its /metrics (open on loopback; beyond it a token with the `metrics` or `admin` scope).
 */
export async function scrapeAgents(hubUrl: string, token: string | undefined, timeoutMs = 5_000): Promise<LiveState> {
  const url = `${hubUrl.replace(/\/+$/, '')}/metrics`;
  let text: string;
  try {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      return { ok: false, url, why: `${url} answered ${res.status}: pass a token with the metrics scope (--token or SWITCHBOARD_TOKEN)` };
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, url, why: `${url} answered ${res.status}` };
    }
    text = await res.text();
  } catch (err) {
    return { ok: false, url, why: `no hub answers at ${url} (${describeError(err)}); start \`switchboard serve\`, or pass --port/--config of the running hub` };
  }
  const samples = parsePrometheus(text);
  const agents = new Map<string, LiveAgent>();
  const entry = (agent: string) => {
    let a = agents.get(agent);
    if (!a) {
      a = { breaker: 'closed', recentRequests: 0, recentErrors: 0 };
      agents.set(agent, a);
    }
    return a;
  };
  for (const s of samples) {
    const agent = s.labels['agent'];
    if (agent === undefined) continue;
    if (s.name === 'switchboard_agent_breaker_state') entry(agent).breaker = GAUGE_STATE[s.value] ?? 'closed';
    else if (s.name === 'switchboard_agent_recent_requests') entry(agent).recentRequests = s.value;
    else if (s.name === 'switchboard_agent_recent_errors') entry(agent).recentErrors = s.value;
  }
  return { ok: true, url, agents };
}

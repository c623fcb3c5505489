import { createHmac } from 'node:crypto';
import type { PolicyDeps } from '../../src/agents/policy.js';
import type { Clock } from '../../src/clock.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { capturedLogger } from '../helpers/log.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

/** An upagents entry on the sandbox marketplace the hub hosts. */
export const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local' } as const;

export const TRIAGE_IN = {
  type: 'object',
  properties: { ticket_subject: { type: 'string' }, ticket_body: { type: 'string' } },
  required: ['ticket_subject', 'ticket_body'],
};

export const TRIAGE_OUT = {
  type: 'object',
  properties: { category: { enum: ['billing', 'bug', 'feature', 'question'] }, confidence_score: { type: 'number' } },
  required: ['category', 'confidence_score'],
};

export const TICKET = { ticket_subject: 'Refund', ticket_body: 'I was charged twice on my invoice' };

/**
 * Agents that fail in each way the policy handles: a 503 with a fallback, invalid output with a
 * fallback, low confidence, an agent-level error, and the healthy triage agent they fall back to.
 */
export const FAILING_AGENTS = {
  broken: { ...SB, agentId: 'support_triage_v4', inputSchema: TRIAGE_IN, retries: 0, headers: { 'x-sandbox-fail': '503' }, fallback: 'triage_ok' },
  bent: {
    ...SB,
    agentId: 'support_triage_v4',
    inputSchema: TRIAGE_IN,
    outputSchema: TRIAGE_OUT,
    headers: { 'x-sandbox-output': 'invalid' },
    fallback: 'triage_ok',
  },
  unsure: {
    ...SB,
    agentId: 'support_triage_v4',
    inputSchema: TRIAGE_IN,
    minConfidence: { path: '$.confidence_score', min: 0.7 },
    headers: { 'x-sandbox-output': 'low_confidence' },
  },
  // In the agent id, not a header: header values are secrets the hub scrubs from results.
  overflow: { ...SB, agentId: 'echo_v1+agent-error=context_overflow' },
  triage_ok: { ...SB, agentId: 'support_triage_v4', inputSchema: TRIAGE_IN, outputSchema: TRIAGE_OUT },
};

export interface AgentHub {
  hub: RunningHub;
  /** What the hub logged, line by line (debug and up). */
  logLines: string[];
  /** A second user's token, for the side-by-side checks. */
  bobToken: string;
}

/** A hub on loopback with the sandbox marketplace and these agents, retry waits skipped, its log captured. */
export async function startAgentHub(agents: Record<string, unknown>): Promise<AgentHub> {
  const logLines: string[] = [];
  const hub = await startHub(
    { integrations: { sandbox: {} }, agents, logLevel: 'debug' },
    { log: capturedLogger(logLines), agents: { sleep: async () => {} } },
  );
  const bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  return { hub, logLines, bobToken };
}

/** The headers of a callback signed as seed 000 says (HMAC-SHA256 of `timestamp.body` under the agent's webhook secret). */
export function signedCallback(secret: string, body: string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/json',
    'x-webhook-timestamp': String(ts),
    'x-webhook-signature': createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex'),
  };
}

/** Its diagnostics take the marketplace's key, from loopback. */
const MARKET_AUTH = { authorization: `Bearer ${SB.apiKey}` };

/** The marketplace's id of the answer it holds (a `callback=hold` agent) for the hub's task `taskId`, on the hub at `base`; undefined while it holds none. */
async function heldFor(base: string, taskId: string): Promise<string | undefined> {
  const res = await fetch(`${base}/sandbox/marketplace/v1/_callbacks`, { headers: MARKET_AUTH });
  const { held } = (await res.json()) as { held: Array<{ task_id: string; url: string }> };
  return held.find((h) => h.url === `${base}/agents/callback/${taskId}`)?.task_id;
}

/** The marketplace's id of the task it holds for the hub's task `taskId`, which it must hold already. */
export async function heldRemoteTaskId(base: string, taskId: string): Promise<string> {
  const found = await heldFor(base, taskId);
  if (found === undefined) throw new Error(`the marketplace holds no callback for task ${taskId}`);
  return found;
}

/** Sends the answer the marketplace holds for the hub's task `taskId`, once it holds it; resolves to the marketplace's report. */
export async function releaseHeld(base: string, taskId: string): Promise<unknown> {
  const remote = await eventually(() => heldFor(base, taskId), 5_000);
  return (await fetch(`${base}/sandbox/marketplace/v1/_callbacks/${remote}/release`, { method: 'POST', headers: MARKET_AUTH })).json();
}

/** What `agent__task_status` says of a task, to the client asking. */
export async function agentTaskStatus(client: { callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown> }, taskId: string) {
  const r = (await client.callTool({ name: 'agent__task_status', arguments: { taskId } })) as { structuredContent: { state: string; result?: unknown } };
  return r.structuredContent;
}

/**
 * A policy's dependencies for adapter-level tests: the breaker on the given clock, and waits
 * recorded instead of slept (`waits`), each retry's backoff 100 ms × its number.
 */
export function recordingPolicyDeps(clock: Clock): { deps: PolicyDeps; waits: number[] } {
  const waits: number[] = [];
  const deps: PolicyDeps = {
    breakers: new CircuitBreakers({ threshold: 5, coolDownMs: 60_000, clock }),
    clock,
    sleep: async (ms) => void waits.push(ms),
    backoffMs: (n) => 100 * n,
    maxRetryAfterMs: 10_000,
  };
  return { deps, waits };
}

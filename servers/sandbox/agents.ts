import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { AsyncDeliveries } from './agents-async.js';
import { pushAtMost } from './agents-bounds.js';
import { callbackUrlProblem } from './agents-callback-url.js';
import { SANDBOX_AGENTS, sandboxAgent, tokensOf } from './agents-catalog.js';
import { diagnosticsOnly } from './agents-diagnostics.js';
import { authorized, injected, injectionOf, realWait, type Wait } from './agents-inject.js';
import { clientFault } from './errors.js';

/** The key the sandbox marketplace accepts when none is configured: public, as the sandbox is local. */
export const SANDBOX_AGENT_KEY = 'ua_sandbox_local';

export interface MarketplaceOptions {
  /** Bearer keys accepted. */
  apiKeys?: readonly string[];
  /** Waits for injected latency; real time by default. */
  wait?: Wait;
  /** The clock (ms) async callbacks are signed with and held ones expire by; real time by default. */
  now?: () => number;
}

/** What the marketplace has seen, for tests and demos (GET /_stats, local callers with the key only). */
export interface MarketplaceStats {
  /** Requests per agent id, failures injected included. */
  requests: Record<string, number>;
  /** Session ids sent per agent id, in arrival order: the last MAX_SESSIONS of each. */
  sessions: Record<string, string[]>;
}

const MAX_SESSIONS = 1_000;

const bodySchema = z.object({
  mode: z.enum(['sync', 'async', 'stream']).default('sync'),
  input: z.record(z.string(), z.unknown()),
  session_id: z.string().max(200).optional(),
  webhook: z
    .object({
      url: z.string().superRefine((url, ctx) => {
        const problem = callbackUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: `webhook.url ${problem}` });
      }),
      secret: z.string().min(1).max(1_000),
    })
    .optional(),
});

/** Seed 000's error body: `{ error: { type, message } }`. */
const refuse = (res: Response, status: number, type: string, message: string): void => void res.status(status).json({ error: { type, message } });

/**
 * Failure injection, per request, so one marketplace serves healthy and broken agents side by
 * side: by header (an agent entry of the hub's config sets them with `headers`), or in the agent
 * id after `+` (`echo_v1+fail=503+fail-times=2`), which suits values a result may quote (the hub
 * treats header values as secrets and scrubs them from results). A value out of its range is
 * refused with 400 `invalid_input` (agents-inject.ts):
 *
 * - `x-sandbox-latency-ms: N`  answer after N ms (the stream's headers too; at most 60000)
 * - `x-sandbox-token-ms: N`    N ms between streamed tokens (default 2, at most 5000)
 * - `x-sandbox-fail: S`        answer status S (400-599: 503, 500, 429, 400…) instead of the task
 * - `x-sandbox-fail-times: N`  only the first N requests of `x-sandbox-fail-key` (default: the agent id) fail
 * - `x-sandbox-retry-after: N` send Retry-After: N (seconds, or an HTTP-date) with the failure
 * - `x-sandbox-output: invalid | low_confidence | json_text`  an output that breaks the agent's declared shape or
 *                                 confidence, or the output sent as its JSON string (as some platforms do)
 * - `x-sandbox-agent-error: T` a 200 whose status is error of type T (tool_unavailable, context_overflow, timeout)
 * - `x-sandbox-queue: 1`       a sync task answered 202 `queued` all the same
 */
export function marketplaceRoutes(o: MarketplaceOptions = {}): { router: Router; stats: () => MarketplaceStats } {
  const keys = (o.apiKeys ?? [SANDBOX_AGENT_KEY]).map((k) => Buffer.from(k));
  const wait = o.wait ?? realWait;
  const failures = new Map<string, number>();
  const stats: MarketplaceStats = { requests: {}, sessions: {} };
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));
  const deliveries = new AsyncDeliveries({ wait, ...(o.now ? { now: o.now } : {}) });
  const diagnostics = diagnosticsOnly({
    keyOk: (req) => authorized(req.get('authorization'), keys),
    deny: (res, status, message) => refuse(res, status, status === 401 ? 'unauthorized' : 'forbidden', message),
  });
  deliveries.mount(router, diagnostics);

  router.get('/agents', (_req, res) => {
    res.json({ agents: SANDBOX_AGENTS.map((a) => ({ id: a.id, title: a.title, description: a.description, modes: ['sync', 'async', 'stream'] })) });
  });
  router.get('/_stats', diagnostics, (_req, res) => {
    res.json(stats);
  });

  router.post('/agents/:agentId/tasks', async (req: Request<{ agentId: string }>, res: Response) => {
    if (!authorized(req.get('authorization'), keys)) return refuse(res, 401, 'unauthorized', 'a valid bearer key is required');
    const inj = injectionOf(req, req.params.agentId);
    if ('error' in inj) return refuse(res, 400, 'invalid_input', inj.error);
    const agent = sandboxAgent(inj.id);
    if (!agent) return refuse(res, 404, 'not_found', `no agent ${inj.id.slice(0, 100)}`);
    const body = bodySchema.safeParse(req.body);
    if (!body.success) return refuse(res, 400, 'invalid_input', body.error.issues.map((i) => i.message).join('; '));
    const { mode, input, session_id, webhook } = body.data;
    stats.requests[agent.id] = (stats.requests[agent.id] ?? 0) + 1;
    if (session_id) {
      const seen = stats.sessions[agent.id] ?? [];
      stats.sessions[agent.id] = seen;
      pushAtMost(seen, MAX_SESSIONS, session_id);
    }
    const { knobs } = inj;
    if (await injected(inj, res, { wait, failures })) return;
    if (mode === 'async' && !webhook) return refuse(res, 400, 'invalid_input', 'an async task needs webhook: { url, secret }');
    if (mode === 'async' && deliveries.busy) {
      res.set('retry-after', '1');
      return refuse(res, 429, 'rate_limited', 'too many callbacks waiting to be sent; retry in a second');
    }
    const taskId = `task_${randomUUID()}`;
    const agentError = knobs['agent-error'];
    if (agentError) return void res.json({ task_id: taskId, status: 'error', error: { type: agentError, message: `the agent stopped: ${agentError}` } });
    let { output, text } = agent.run(input, session_id);
    const bend = knobs.output;
    if (bend === 'invalid') output = { unexpected: 'this is not the declared output' };
    if (bend === 'low_confidence' && output !== null && typeof output === 'object') output = { ...output, confidence: 0.1, confidence_score: 0.1 };
    if (bend === 'json_text') output = JSON.stringify(output);
    const usage = { input_tokens: tokensOf(JSON.stringify(input)).length, output_tokens: tokensOf(text).length };
    // A platform that queues a task even when asked to answer at once (the hub must not wait for a callback it never offered).
    if (mode === 'sync' && knobs.queue) return void res.status(202).json({ task_id: taskId, status: 'queued' });
    if (mode === 'sync') return void res.json({ task_id: taskId, status: 'completed', output, usage });
    if (mode === 'async' && webhook) return deliveries.submit(res, { taskId, webhook, output, usage, knobs });
    await stream(res, { taskId, text, output, usage, tokenMs: knobs['token-ms'] ?? 2, wait });
  });
  // A path parameter that is not valid percent-encoding, or a body that cannot be read, in seed 000's error shape.
  router.use(((err, _req, res, next) => {
    const fault = clientFault(err);
    if (!fault) return next(err);
    refuse(res, fault.status, 'invalid_input', fault.message);
  }) satisfies ErrorRequestHandler);
  return { router, stats: () => stats };
}

/** Seed 000's stream: `token` events, a `tool_call`, then `complete` with the output and metrics. */
async function stream(res: Response, s: { taskId: string; text: string; output: unknown; usage: object; tokenMs: number; wait: Wait }): Promise<void> {
  res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.flushHeaders();
  const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  send('tool_call', { task_id: s.taskId, tool_name: 'lookup' });
  for (const t of tokensOf(s.text)) {
    if (res.destroyed) return;
    send('token', { content: t });
    if (s.tokenMs > 0) await s.wait(s.tokenMs);
  }
  send('complete', { task_id: s.taskId, output: s.output, metrics: s.usage });
  res.end();
}

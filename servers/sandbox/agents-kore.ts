import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { AsyncDeliveries } from './agents-async.js';
import { clip, keepAtMost, pushAtMost, small } from './agents-bounds.js';
import { callbackUrlProblem } from './agents-callback-url.js';
import { diagnosticsOnly } from './agents-diagnostics.js';
import { authorized, injected, injectionOf, realWait, type Wait } from './agents-inject.js';
import { clientFault } from './errors.js';

/** The key the sandbox's Kore agents accept (`Authorization: Bearer …`): public, as the sandbox is local. */
export const SANDBOX_KORE_KEY = 'kore_sandbox_local';

export interface KoreMarketplaceOptions {
  apiKeys?: readonly string[];
  wait?: Wait;
  /** Posts an async answer to its callback URL (real fetch by default). */
  fetch?: typeof globalThis.fetch;
}

/**
 * What the Kore agents have seen (GET /_stats, local callers with the key only): per agent id, the
 * last MAX_SEEN requests' session, debug, stream and metadata (a large metadata is noted by size).
 */
export interface KoreStats {
  requests: Record<string, Array<{ sessionReference: string; userReference: string; debug: boolean; stream: boolean; metadata: Record<string, unknown> }>>;
}

const MAX_SEEN = 100;
/** Sessions memory_v1 remembers (the least recently used forgotten first), and per session its last messages, each cut to a length. */
const MAX_SESSIONS = 1_000;
const MAX_REMEMBERED = 20;
const MAX_REMEMBERED_CHARS = 1_000;
const AGENT_IDS = ['memory_v1', 'storyteller_v1'];

/** The Kore agents' error body, `{ error: { message } }`. */
const refuse = (res: Response, status: number, message: string): void => void res.status(status).json({ error: { message } });

// Seed 003's request format (its `enable` is documented as a string and set to true: both are taken).
const flag = z.union([z.boolean(), z.string().transform((s) => s === 'true')]);
const requestSchema = z.object({
  sessionIdentity: z.array(z.object({ type: z.string(), value: z.string().max(200) })).min(1),
  input: z.array(z.object({ type: z.literal('text'), content: z.string() })).min(1),
  debug: z.object({ enable: flag, debugMode: z.enum(['full', 'no', 'thoughts']).optional() }).optional(),
  stream: z.object({ enable: flag, streamMode: z.enum(['token', 'messages']).optional() }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** One turn of a sandbox Kore agent: its messages (streamed one by one) and its thoughts. */
interface Turn {
  messages: string[];
  thoughts: string[];
}

interface Memory {
  turns: number;
  recent: string[];
}

/**
 * The agents. `memory_v1` keeps what each session said (in this process, keyed by the session
 * and user references it is sent) and answers with JSON text: the turn, the session reference
 * and what it remembers, so a test can tell two users' sessions apart. The key is public, so the
 * references are the only thing that tells one caller's memory from another's: the hub sends an
 * opaque HMAC no one else is shown (the diagnostics that list them answer local callers only),
 * as a Kore agent's session reference is. `storyteller_v1` answers in a few messages, for streaming.
 */
function agentTurn(id: string, memory: Map<string, Memory>, session: string, text: string): Turn | undefined {
  if (id === 'memory_v1') {
    const m = memory.get(session) ?? { turns: 0, recent: [] };
    const earlier = [...m.recent];
    m.turns++;
    pushAtMost(m.recent, MAX_REMEMBERED, clip(text, MAX_REMEMBERED_CHARS));
    keepAtMost(memory, MAX_SESSIONS, session, m);
    const reply = { turn: m.turns, session, remembered: earlier, reply: `noted: ${text}` };
    return { messages: [JSON.stringify(reply)], thoughts: [`looking up the memory of session ${session}`, `${earlier.length} earlier messages found`] };
  }
  if (id === 'storyteller_v1') {
    return {
      messages: [`Once there was ${text}. `, 'It travelled far. ', 'And it came home.'],
      thoughts: ['choosing a beginning', 'choosing an ending'],
    };
  }
  return undefined;
}

/**
 * A Kore-compatible external agent (seed 003): `POST /agents/:agentId` takes the proxy request and
 * answers with the proxy response; with `stream.enable` it answers `text/event-stream`, one event
 * per message (`output`), then one whose `sessionInfo.output` holds the whole answer; with
 * `debug.enable` the thoughts come in `debug`. With `metadata.callbackUrl` (a hub's callback URL
 * only, agents-callback-url.ts; anything else is a 400) it answers 202 and posts the response
 * there, unsigned, through the upagents marketplace's deliveries (agents-async.ts), so its
 * `callback`, `callback-ms` and `callback-duplicates` apply here too; a held answer is listed
 * under `/_callbacks` by its `messageId` and released as there. Failure injection as in
 * agents-inject.ts, plus `agent-error`.
 */
export function koreMarketplaceRoutes(o: KoreMarketplaceOptions = {}): { router: Router; stats: () => KoreStats } {
  const keys = (o.apiKeys ?? [SANDBOX_KORE_KEY]).map((k) => Buffer.from(k));
  const wait = o.wait ?? realWait;
  const failures = new Map<string, number>();
  const memory = new Map<string, Memory>();
  const stats: KoreStats = { requests: {} };
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));
  const deliveries = new AsyncDeliveries({ wait, ...(o.fetch ? { fetch: o.fetch } : {}) });
  const diagnostics = diagnosticsOnly({ keyOk: (req) => authorized(req.get('authorization'), keys), deny: refuse });
  deliveries.mount(router, diagnostics);
  router.get('/_stats', diagnostics, (_req, res) => {
    res.json(stats);
  });

  router.post('/agents/:agentId', async (req: Request<{ agentId: string }>, res: Response) => {
    if (!authorized(req.get('authorization'), keys)) return refuse(res, 401, 'a valid bearer key is required');
    const inj = injectionOf(req, req.params.agentId);
    if ('error' in inj) return refuse(res, 400, inj.error);
    const body = requestSchema.safeParse(req.body);
    if (!body.success) return refuse(res, 400, body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const b = body.data;
    const callbackUrl = b.metadata?.['callbackUrl'];
    if (callbackUrl !== undefined) {
      const problem = typeof callbackUrl === 'string' ? callbackUrlProblem(callbackUrl) : 'must be a string';
      if (problem) return refuse(res, 400, `metadata.callbackUrl ${problem}`);
    }
    // Unknown ids are answered 404 (after the injected failure, as before) but not recorded: a caller could name any number of them.
    const known = AGENT_IDS.includes(inj.id);
    const ref = (type: string) => b.sessionIdentity.find((s) => s.type === type)?.value ?? '';
    const session = `${ref('sessionReference')}|${ref('userReference')}`;
    const debug = b.debug?.enable === true && b.debug.debugMode !== 'no';
    const streamed = b.stream?.enable === true;
    if (known) {
      const seen = stats.requests[inj.id] ?? [];
      stats.requests[inj.id] = seen;
      const metadata = small(b.metadata ?? {});
      pushAtMost(seen, MAX_SEEN, { sessionReference: ref('sessionReference'), userReference: ref('userReference'), debug, stream: streamed, metadata });
    }
    if (await injected(inj, res, { wait, failures })) return;
    // Checked after the injected latency and before any await, so the count cannot overshoot.
    if (typeof callbackUrl === 'string' && deliveries.busy) {
      res.set('retry-after', '1');
      return refuse(res, 429, 'too many answers waiting to be posted; retry in a second');
    }
    const turn = agentTurn(inj.id, memory, session, b.input.map((i) => i.content).join('\n'));
    if (!turn) return refuse(res, 404, `no agent ${inj.id.slice(0, 100)}`);
    const messageId = `msg-${randomUUID()}`;
    const info = { userReference: ref('userReference'), sessionReference: ref('sessionReference'), appId: 'sandbox', runId: randomUUID() };
    const whole = turn.messages.join('');
    const agentError = inj.knobs['agent-error'];
    const final = agentError
      ? {
          messageId,
          output: [{ type: 'text', content: `the agent stopped: ${agentError}` }],
          sessionInfo: { ...info, status: 'error', conversationState: 'ERROR' },
        }
      : {
          messageId,
          output: [{ type: 'text', content: whole }],
          ...(debug ? { debug: turn.thoughts.map((t) => ({ type: 'thought', content: t })) } : {}),
          sessionInfo: { ...info, status: 'idle', conversationState: 'COMPLETED', output: { type: 'text', content: whole } },
        };
    if (typeof callbackUrl === 'string') {
      res.status(202).json({ messageId, sessionInfo: { ...info, status: 'busy', conversationState: 'ACTIVE' } });
      // `callback: failed` is the agent's error state, as `agent-error` answers it.
      const failed = {
        messageId,
        output: [{ type: 'text', content: 'a tool the agent needs is down' }],
        sessionInfo: { ...info, status: 'error', conversationState: 'ERROR' },
      };
      return deliveries.schedule({
        taskId: messageId,
        url: callbackUrl,
        body: (fails) => JSON.stringify(fails ? failed : final),
        knobs: inj.knobs,
        defaultMs: 0,
      });
    }
    if (!streamed || agentError) return void res.json(final);
    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const tokenMs = inj.knobs['token-ms'] ?? 2;
    for (const [i, m] of turn.messages.entries()) {
      if (res.destroyed) return;
      const thought = debug && turn.thoughts[i] !== undefined ? { debug: [{ type: 'thought', content: turn.thoughts[i] }] } : {};
      res.write(`data: ${JSON.stringify({ messageId, output: [{ type: 'text', content: m }], ...thought })}\n\n`);
      if (tokenMs > 0) await wait(tokenMs);
    }
    res.write(`data: ${JSON.stringify({ ...final, output: undefined, debug: undefined })}\n\n`);
    res.end();
  });
  // A path parameter that is not valid percent-encoding, or a body that cannot be read, in the agents' error shape.
  router.use(((err, _req, res, next) => {
    const fault = clientFault(err);
    if (!fault) return next(err);
    refuse(res, fault.status, fault.message);
  }) satisfies ErrorRequestHandler);
  return { router, stats: () => stats };
}

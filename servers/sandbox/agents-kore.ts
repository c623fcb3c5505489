import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { authorized, injected, injectionOf, realWait, type Wait } from './agents-inject.js';

/** The key the sandbox's Kore agents accept (`Authorization: Bearer …`): public, as the sandbox is local. */
export const SANDBOX_KORE_KEY = 'kore_sandbox_local';

export interface KoreMarketplaceOptions {
  apiKeys?: readonly string[];
  wait?: Wait;
  /** Posts an async answer to its callback URL (real fetch by default). */
  fetch?: typeof globalThis.fetch;
}

/** What the Kore agents have seen (GET /_stats): per agent id, each request's session, debug, stream and metadata. */
export interface KoreStats {
  requests: Record<string, Array<{ sessionReference: string; userReference: string; debug: boolean; stream: boolean; metadata: Record<string, unknown> }>>;
}

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

/**
 * The agents. `memory_v1` keeps what each session said (in this process, keyed by the session
 * and user references it is sent) and answers with JSON text: the turn, the session reference
 * and what it remembers, so a test can tell two users' sessions apart. `storyteller_v1` answers
 * in a few messages, for streaming.
 */
function agentTurn(id: string, memory: Map<string, string[]>, session: string, text: string): Turn | undefined {
  if (id === 'memory_v1') {
    const earlier = memory.get(session) ?? [];
    memory.set(session, [...earlier, text]);
    const reply = { turn: earlier.length + 1, session, remembered: earlier, reply: `noted: ${text}` };
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
 * `debug.enable` the thoughts come in `debug`. With `metadata.callbackUrl` it answers 202 and posts
 * the response there. Failure injection as in agents-inject.ts, plus `x-sandbox-agent-error`.
 */
export function koreMarketplaceRoutes(o: KoreMarketplaceOptions = {}): { router: Router; stats: () => KoreStats } {
  const keys = (o.apiKeys ?? [SANDBOX_KORE_KEY]).map((k) => Buffer.from(k));
  const wait = o.wait ?? realWait;
  const post = o.fetch ?? globalThis.fetch;
  const failures = new Map<string, number>();
  const memory = new Map<string, string[]>();
  const stats: KoreStats = { requests: {} };
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));
  router.get('/_stats', (_req, res) => {
    res.json(stats);
  });

  router.post('/agents/:agentId', async (req: Request<{ agentId: string }>, res: Response) => {
    if (!authorized(req.get('authorization'), keys)) return void res.status(401).json({ error: { message: 'a valid bearer key is required' } });
    const inj = injectionOf(req, req.params.agentId);
    const body = requestSchema.safeParse(req.body);
    if (!body.success) return void res.status(400).json({ error: { message: body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } });
    const b = body.data;
    const ref = (type: string) => b.sessionIdentity.find((s) => s.type === type)?.value ?? '';
    const session = `${ref('sessionReference')}|${ref('userReference')}`;
    const debug = b.debug?.enable === true && b.debug.debugMode !== 'no';
    const streamed = b.stream?.enable === true;
    const seen = stats.requests[inj.id] ?? [];
    stats.requests[inj.id] = seen;
    seen.push({
      sessionReference: ref('sessionReference'),
      userReference: ref('userReference'),
      debug,
      stream: streamed,
      metadata: b.metadata ?? {},
    });
    if (await injected(inj, res, { wait, failures })) return;
    const turn = agentTurn(inj.id, memory, session, b.input.map((i) => i.content).join('\n'));
    if (!turn) return void res.status(404).json({ error: { message: `no agent ${inj.id}` } });
    const messageId = `msg-${randomUUID()}`;
    const info = { userReference: ref('userReference'), sessionReference: ref('sessionReference'), appId: 'sandbox', runId: randomUUID() };
    const whole = turn.messages.join('');
    const agentError = inj.get('agent-error');
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
    const callbackUrl = b.metadata?.['callbackUrl'];
    if (typeof callbackUrl === 'string') {
      res.status(202).json({ messageId, sessionInfo: { ...info, status: 'busy', conversationState: 'ACTIVE' } });
      await wait(Number(inj.get('callback-ms') ?? 0));
      await post(callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(final) }).catch(() => {});
      return;
    }
    if (!streamed || agentError) return void res.json(final);
    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const tokenMs = Number(inj.get('token-ms') ?? 2);
    for (const [i, m] of turn.messages.entries()) {
      if (res.destroyed) return;
      const thought = debug && turn.thoughts[i] !== undefined ? { debug: [{ type: 'thought', content: turn.thoughts[i] }] } : {};
      res.write(`data: ${JSON.stringify({ messageId, output: [{ type: 'text', content: m }], ...thought })}\n\n`);
      if (tokenMs > 0) await wait(tokenMs);
    }
    res.write(`data: ${JSON.stringify({ ...final, output: undefined, debug: undefined })}\n\n`);
    res.end();
  });
  return { router, stats: () => stats };
}

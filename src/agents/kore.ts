import { z } from 'zod';
import type { KoreAgentConfig } from '../definition/agents.js';
import { untilAnswer } from '../providers/sse.js';
import { mergedPartials } from './partials.js';
import { type AgentAdapter, type AgentAnswer, AgentAttemptError, type AgentPartial, type AgentRequest, objectIn } from './adapter.js';
import {
  type AgentExchange,
  MAX_STREAMED_CHARS,
  type UrlAgentOptions,
  absoluteUrl,
  exchange,
  failure,
  isEventStream,
  jsonOf,
  notResent,
  tooDeep,
} from './http-attempt.js';
import { nestsTooDeep } from '../mcp/json-depth.js';
import { headerRecord, setHeader } from '../providers/header-record.js';

/** An `output` or `debug` item of seed 003's response (`{type, content}`). */
const itemSchema = z.looseObject({ type: z.string().optional(), content: z.unknown().optional() });

/** Seed 003's response format. Parsed, never cast; fields beyond these are ignored. */
export const koreResponseSchema = z.looseObject({
  messageId: z.string().optional(),
  output: z.array(itemSchema).optional(),
  debug: z.array(itemSchema).optional(),
  sessionInfo: z
    .looseObject({
      status: z.string().optional(),
      conversationState: z.string().optional(),
      runId: z.string().optional(),
      output: itemSchema.optional(),
    })
    .optional(),
});

export type KoreResponse = z.infer<typeof koreResponseSchema>;

export interface KoreRequestParts {
  req: Pick<AgentRequest, 'input' | 'sessionId' | 'callId' | 'onPartial'>;
  config: Pick<KoreAgentConfig, 'debug' | 'stream'>;
  /** Async mode: where the agent posts its answer (a URL on the hub holding the task id). */
  callbackUrl?: string;
}

/**
 * Seed 003's request. Both session references are the caller's opaque per-agent identity
 * (session.ts): the hub keeps no conversation id of its own that outlives an MCP session (a
 * 2026-era client has none), so one user's conversation with one agent is one Kore session, and
 * the agent never learns who the user is. Thoughts are asked for only when the entry says
 * `debug: true` and the caller listens for progress (sent a progressToken): nobody would read
 * them otherwise. `metadata.callId` is the hub's id of the tool call.
 */
export function koreRequestBody(p: KoreRequestParts): Record<string, unknown> {
  const { req, config } = p;
  const args = req.input;
  const keys = Object.keys(args);
  // The default input schema's `{ input: "…" }` is sent as the text itself; other arguments as their JSON.
  const content = keys.length === 1 && keys[0] === 'input' && typeof args['input'] === 'string' ? args['input'] : JSON.stringify(args);
  return {
    sessionIdentity: [
      { type: 'sessionReference', value: req.sessionId },
      { type: 'userReference', value: req.sessionId },
    ],
    input: [{ type: 'text', content }],
    ...(config.debug && req.onPartial ? { debug: { enable: true, debugMode: 'thoughts' } } : {}),
    ...(config.stream ? { stream: { enable: true, streamMode: 'messages' } } : {}),
    metadata: { ...(req.callId ? { callId: req.callId } : {}), ...(p.callbackUrl ? { callbackUrl: p.callbackUrl } : {}) },
  };
}

const textOf = (items: ReadonlyArray<{ content?: unknown }>): string =>
  items.map((i) => (typeof i.content === 'string' ? i.content : i.content === undefined ? '' : JSON.stringify(i.content))).join('');

/** The thoughts of a response's `debug`, as progress. */
function passThoughts(r: KoreResponse, onPartial: ((p: AgentPartial) => void) | undefined): void {
  if (!onPartial) return;
  for (const d of r.debug ?? []) if ((d.type ?? 'thought') === 'thought' && typeof d.content === 'string') onPartial({ kind: 'thought', text: d.content });
}

/**
 * A whole Kore response (a sync answer, a stream's last event, or an async callback's body) as the
 * policy's answer. The output is the text of `sessionInfo.output` (a stream stitches the whole
 * answer there) else of `output`; with an output schema the text is read as the JSON object it
 * should hold (Kore outputs are text), and what is not JSON stays text for the check to refuse.
 */
export function koreAnswer(raw: unknown, name: string, o: { structured: boolean; async?: boolean }): AgentAnswer {
  const parsed = koreResponseSchema.safeParse(raw);
  if (!parsed.success) throw new AgentAttemptError('protocol', `agent ${name} answered with a body that is not a Kore response`);
  const r = parsed.data;
  const info = r.sessionInfo;
  const taskId = r.messageId === undefined ? {} : { taskId: r.messageId };
  const text = info?.output !== undefined ? textOf([info.output]) : r.output !== undefined ? textOf(r.output) : undefined;
  if (info?.status === 'error' || info?.conversationState === 'ERROR')
    return { kind: 'agent_error', type: 'error', message: text || 'the agent reported an error', ...taskId };
  if (text === undefined) {
    // Async: the agent took the task and will post the answer to the callback URL.
    if (o.async && r.messageId !== undefined) return { kind: 'submitted', taskId: r.messageId, state: info?.status ?? 'busy' };
    throw new AgentAttemptError('protocol', `agent ${name} answered without an output`);
  }
  return { kind: 'output', output: o.structured ? objectIn(text) : text, ...taskId };
}

export type KoreOptions = UrlAgentOptions<KoreAgentConfig>;

/**
 * Seed 003's Kore proxy-agent protocol: one POST of the proxy request to the agent's URL. Sync
 * answers with the response; `stream: true` asks for messages, read as server-sent events whose
 * data are responses (each message's output and thoughts passed on as progress, the last one
 * holding the whole answer in `sessionInfo`). Async (a request with a callback) sends its URL in
 * `metadata.callbackUrl` and answers `submitted`; the waiting and the callback route are the task
 * store's, which reads the posted body with `koreAnswer`.
 */
export class KoreAdapter implements AgentAdapter {
  readonly protocol = 'kore';

  constructor(private readonly o: KoreOptions) {}

  /** With `req.callback` (async mode) the request carries its URL and the answer is `submitted` unless the agent answers at once. */
  call(req: AgentRequest): Promise<AgentAnswer> {
    return this.send(req, req.callback?.url);
  }

  private async send(req: AgentRequest, callbackUrl: string | undefined): Promise<AgentAnswer> {
    const c = this.o.config;
    const x: AgentExchange = { name: this.o.name, provider: this.o.provider, clock: this.o.clock, timeoutMs: c.timeoutMs, signal: req.signal };
    const stream = c.stream && callbackUrl === undefined;
    const body = koreRequestBody({ req, config: { debug: c.debug, stream }, ...(callbackUrl ? { callbackUrl } : {}) });
    const headers = headerRecord(c.headers);
    setHeader(headers, 'content-type', 'application/json');
    setHeader(headers, 'accept', stream ? 'text/event-stream, application/json' : 'application/json');
    const res = await exchange(x, absoluteUrl(c.url, this.o.publicUrl), { method: 'POST', headers, body: JSON.stringify(body) }, stream);
    const structured = c.outputSchema !== undefined;
    try {
      if (stream && isEventStream(res)) return await this.readStream(res, req, structured);
      const raw = await jsonOf(x, res);
      passThoughts(koreResponseSchema.safeParse(raw).data ?? {}, req.onPartial);
      return koreAnswer(raw, this.o.name, { structured, async: callbackUrl !== undefined || res.status === 202 });
    } catch (err) {
      throw failure(x, err);
    }
  }

  private async readStream(res: Response, req: AgentRequest, structured: boolean): Promise<AgentAnswer> {
    let text = '';
    // Tokens that came in one read go on as one partial.
    const partials = mergedPartials(req.onPartial);
    const read = { label: `agent ${this.o.name}`, idleMs: this.o.config.timeoutMs, onBatchEnd: partials.flush };
    const answer = await untilAnswer(res, read, (e): AgentAnswer | undefined => {
      // A keep-alive (`event: ping` with empty data, a named event of the server's own) carries no
      // Kore response, which comes as SSE's unnamed default event (`message`, WHATWG HTML §9.2.6).
      if (e.data.trim() === '' || (e.event !== undefined && e.event !== 'message')) return undefined;
      let raw: unknown;
      if (nestsTooDeep(e.data)) throw tooDeep(this.o.name);
      try {
        raw = JSON.parse(e.data);
      } catch {
        throw new AgentAttemptError('protocol', `agent ${this.o.name} streamed an event that is not JSON`);
      }
      const parsed = koreResponseSchema.safeParse(raw);
      if (!parsed.success) return undefined;
      const r = parsed.data;
      passThoughts(r, partials.push);
      // Seed 003: the last event stitches the whole output under sessionInfo; the others carry parts.
      if (r.sessionInfo?.output !== undefined || r.sessionInfo?.status === 'error' || r.sessionInfo?.conversationState === 'ERROR') {
        return koreAnswer({ ...r, debug: undefined, output: r.sessionInfo.output ? undefined : [{ type: 'text', content: text }] }, this.o.name, {
          structured,
        });
      }
      const part = textOf(r.output ?? []);
      if (part === '') return undefined;
      text += part;
      if (text.length > MAX_STREAMED_CHARS) throw new AgentAttemptError('protocol', `agent ${this.o.name} streamed more than ${MAX_STREAMED_CHARS} characters`);
      partials.push({ kind: 'text', text: part });
      return undefined;
    });
    if (answer !== undefined) return answer;
    // A stream that ends without its whole answer may have been cut anywhere: not an answer to trust.
    throw new AgentAttemptError('transport', `agent ${this.o.name} closed its stream before the whole answer${notResent(this.o.name)}`, { sent: true });
  }
}

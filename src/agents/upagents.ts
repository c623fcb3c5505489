import { z } from 'zod';
import { isPlainRecord } from '../is-record.js';
import type { ProviderClient } from '../providers/client.js';
import { apiKeyCredentials } from '../providers/credentials.js';
import { untilAnswer } from '../providers/sse.js';
import { mergedPartials } from './partials.js';
import type { Clock } from '../clock.js';
import type { UpagentsAgentConfig } from '../definition/agents.js';
import { AgentAttemptError, type AgentAdapter, type AgentAnswer, type AgentRequest, type AgentUsage, objectIn } from './adapter.js';
import { type AgentExchange, MAX_STREAMED_CHARS, exchange, failure, isEventStream, jsonOf, notResent, tooDeep } from './http-attempt.js';
import { nestsTooDeep } from '../mcp/json-depth.js';
import { headerRecord, setHeader } from '../providers/header-record.js';

/**
 * Seed 000's task body. Fields beyond these are kept out of the answer (parse, never cast): the
 * output is whatever `output` holds.
 */
const taskSchema = z.looseObject({
  task_id: z.string().optional(),
  status: z.string().optional(),
  output: z.unknown().optional(),
  error: z.looseObject({ type: z.string().optional(), message: z.string().optional() }).optional(),
  usage: z.unknown().optional(),
  metrics: z.unknown().optional(),
});

const usageSchema = z.looseObject({
  input_tokens: z.coerce.number().optional(),
  output_tokens: z.coerce.number().optional(),
  cost_cents: z.coerce.number().optional(),
});

/** A stream event's data: `{type, content}` for tokens, `{type, tool_name}` for tool calls, `{type, output?, metrics?}` at the end. */
const streamDataSchema = z.looseObject({
  type: z.string().optional(),
  content: z.string().optional(),
  tool_name: z.string().optional(),
  output: z.unknown().optional(),
  metrics: z.unknown().optional(),
  usage: z.unknown().optional(),
  task_id: z.string().optional(),
  error: z.looseObject({ type: z.string().optional(), message: z.string().optional() }).optional(),
});

/**
 * A reader of a body part: the plain shape (these fields absent or strings, no `error`) taken as it
 * is, anything else parsed by the schema. One schema parse per streamed event was most of the
 * hub's own work on a token, and a sync task's two were a share of its answer's way back.
 */
function plainOrParsed<T>(schema: z.ZodType<T>, stringFields: readonly string[]): (raw: unknown) => T | undefined {
  return (raw) => {
    const plain = isPlainRecord(raw) && raw['error'] === undefined && stringFields.every((k) => raw[k] === undefined || typeof raw[k] === 'string');
    if (plain) return raw as T;
    const parsed = schema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  };
}

const streamDataOf = plainOrParsed(streamDataSchema, ['type', 'content', 'tool_name', 'task_id']);

export interface UpagentsOptions {
  /** The config entry's name: errors and the pacer say it, never the key. */
  name: string;
  config: UpagentsAgentConfig;
  /** The absolute base URL (a hub-relative `baseUrl` resolved against the hub's URL when called). */
  baseUrl: () => string;
  provider: ProviderClient;
  clock: Clock;
}

/**
 * `POST {baseUrl}/agents/{agentId}/tasks` with the bearer key (seed 000). Sync answers with the
 * task; stream answers with `text/event-stream` (`token`, `tool_call`, `complete`). Every request
 * goes through the provider client, which owns the timeout, the size cap and the redirect check;
 * it is told not to retry (a task is not safe to repeat there: the policy decides).
 */
export class UpagentsAdapter implements AgentAdapter {
  readonly protocol = 'upagents';

  constructor(private readonly o: UpagentsOptions) {}

  async call(req: AgentRequest): Promise<AgentAnswer> {
    const c = this.o.config;
    const x: AgentExchange = { name: this.o.name, provider: this.o.provider, clock: this.o.clock, timeoutMs: c.timeoutMs, signal: req.signal };
    const stream = c.mode === 'stream';
    const headers = headerRecord(c.headers);
    setHeader(headers, 'content-type', 'application/json');
    setHeader(headers, 'accept', stream ? 'text/event-stream' : 'application/json');
    // Seed 000, "Asynchronous with Webhooks": the platform signs its callback with this secret.
    const webhook = c.mode === 'async' && req.callback ? { webhook: { url: req.callback.url, secret: req.callback.secret } } : {};
    const init: RequestInit = {
      method: 'POST',
      headers,
      body: JSON.stringify({ mode: c.mode, input: req.input, session_id: req.sessionId, ...webhook }),
    };
    const base = this.o.baseUrl();
    // The key goes as the provider client's credentials, scoped to the base URL (a redirect off it drops them).
    const scope = { apiBaseUrl: base, credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Bearer ', value: c.apiKey }) };
    const res = await exchange(x, `${base}/agents/${encodeURIComponent(c.agentId)}/tasks`, init, stream, scope);
    try {
      if (stream && isEventStream(res)) return await this.readStream(res, req);
      return answerOf(taskOf(await jsonOf(x, res)), this.o.name);
    } catch (err) {
      throw failure(x, err);
    }
  }

  private async readStream(res: Response, req: AgentRequest): Promise<AgentAnswer> {
    let text = '';
    let taskId: string | undefined;
    // Tokens that came in one read go on as one partial.
    const partials = mergedPartials(req.onPartial);
    const read = { label: `agent ${this.o.name}`, idleMs: this.o.config.timeoutMs, onBatchEnd: partials.flush };
    const answer = await untilAnswer(res, read, (e): AgentAnswer | undefined => {
      let raw: unknown;
      if (nestsTooDeep(e.data)) throw tooDeep(this.o.name);
      try {
        raw = JSON.parse(e.data);
      } catch {
        // A token may come as plain text; the end of the answer may not: a `complete` (or `error`)
        // whose data is not JSON is a stream gone wrong, and its fallbacks get their chance.
        if ((e.event === 'complete' || e.event === 'error') && e.data.trim() !== '')
          throw new AgentAttemptError('protocol', `agent ${this.o.name} sent a ${e.event} event whose data is not JSON`, { sent: true });
        raw = { content: e.data };
      }
      const d = streamDataOf(raw);
      if (d === undefined) return undefined;
      // The event name, else the data's `type` (seed 000's browser example reads `data.type`). An
      // event named `message` is SSE's unnamed default (WHATWG HTML §9.2.6), as many SSE libraries write every event.
      const named = e.event === 'message' ? undefined : e.event;
      const type = named ?? d.type ?? 'token';
      taskId ??= d.task_id;
      if (type === 'token' && d.content !== undefined) {
        text += d.content;
        // A streamed answer has no body cap in the provider client (it ends at headers): this is it.
        if (text.length > MAX_STREAMED_CHARS)
          throw new AgentAttemptError('protocol', `agent ${this.o.name} streamed more than ${MAX_STREAMED_CHARS} characters`);
        partials.push({ kind: 'text', text: d.content });
      } else if (type === 'tool_call' && d.tool_name !== undefined) {
        partials.push({ kind: 'tool_call', tool: d.tool_name });
      } else if (type === 'error') {
        return {
          kind: 'agent_error',
          type: d.error?.type ?? 'error',
          message: d.error?.message ?? 'the agent reported an error',
          ...(taskId ? { taskId } : {}),
        };
      } else if (type === 'complete') {
        const usage = usageOf(d.usage ?? d.metrics);
        // Text streamed for a tool with an output schema is the object it spells, as with Kore; so
        // is an `output` sent as that text (the JSON string of the object, as some platforms do).
        const given = d.output ?? text;
        const output = this.o.config.outputSchema !== undefined && typeof given === 'string' ? objectIn(given) : given;
        return { kind: 'output', output, ...(taskId ? { taskId } : {}), ...(usage ? { usage } : {}) };
      }
      return undefined;
    });
    if (answer !== undefined) return answer;
    // A stream that ends without `complete` may have been cut anywhere: not an answer to trust.
    throw new AgentAttemptError('transport', `agent ${this.o.name} closed its stream before the complete event${notResent(this.o.name)}`, { sent: true });
  }
}

type Task = z.infer<typeof taskSchema>;

const taskOf = plainOrParsed(taskSchema, ['task_id', 'status']);

function answerOf(t: Task | undefined, name: string): AgentAnswer {
  if (t === undefined) throw new AgentAttemptError('protocol', `agent ${name} answered with a body that is not a task`);
  const taskId = t.task_id === undefined ? {} : { taskId: t.task_id };
  // Seed 000, "Agent-Level Errors": a 200 whose status is error (tool_unavailable, context_overflow, timeout).
  if (t.status === 'error' || t.status === 'failed') {
    return { kind: 'agent_error', type: t.error?.type ?? 'error', message: t.error?.message ?? 'the agent reported an error', ...taskId };
  }
  if (t.status === 'queued' || t.status === 'running' || t.status === 'pending') {
    if (t.task_id === undefined) throw new AgentAttemptError('protocol', `agent ${name} answered ${t.status} without a task id`);
    return { kind: 'submitted', taskId: t.task_id, state: t.status };
  }
  if (!('output' in t)) throw new AgentAttemptError('protocol', `agent ${name} answered without an output`);
  const usage = usageOf(t.usage ?? t.metrics);
  return { kind: 'output', output: t.output, ...taskId, ...(usage ? { usage } : {}) };
}

const USAGE_KEYS = ['input_tokens', 'output_tokens', 'cost_cents'] as const;

/** Token counts and cost: plain numbers (what JSON gives) read as they are, anything else coerced by the schema. */
function usageOf(raw: unknown): AgentUsage | undefined {
  if (raw === undefined) return undefined;
  const plain = isPlainRecord(raw) && USAGE_KEYS.every((k) => raw[k] === undefined || typeof raw[k] === 'number');
  const u = plain ? (raw as z.infer<typeof usageSchema>) : usageSchema.safeParse(raw).data;
  if (u === undefined) return undefined;
  const out: AgentUsage = {};
  if (u.input_tokens !== undefined) out.inputTokens = u.input_tokens;
  if (u.output_tokens !== undefined) out.outputTokens = u.output_tokens;
  if (u.cost_cents !== undefined) out.costCents = u.cost_cents;
  return Object.keys(out).length > 0 ? out : undefined;
}

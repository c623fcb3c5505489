import { readPath, renderBody, renderUrl } from '../definition/agent-template.js';
import type { HttpAgentConfig } from '../definition/agents.js';
import { HubError } from '../errors.js';
import { type AgentAdapter, type AgentAnswer, AgentAttemptError, type AgentRequest } from './adapter.js';
import { type AgentExchange, type UrlAgentOptions, absoluteUrl, exchange, jsonOf } from './http-attempt.js';
import { headerRecord, setHeader } from '../providers/header-record.js';

export type HttpAgentOptions = UrlAgentOptions<HttpAgentConfig>;

/**
 * A generic request definition (seed 003's "Request Definition": method, URL, headers, body,
 * response): the URL and the body filled in from the call (src/definition/agent-template.ts),
 * the entry's headers sent as they are (secrets, `${ENV}` already put in by the config loader),
 * and the answer read from the JSON response by the entry's paths.
 */
export class HttpAgentAdapter implements AgentAdapter {
  readonly protocol = 'http';

  constructor(private readonly o: HttpAgentOptions) {}

  async call(req: AgentRequest): Promise<AgentAnswer> {
    const c = this.o.config;
    const x: AgentExchange = { name: this.o.name, provider: this.o.provider, clock: this.o.clock, timeoutMs: c.timeoutMs, signal: req.signal };
    const vars = { input: req.input, sessionId: req.sessionId, callId: req.callId ?? '' };
    let url: string;
    try {
      url = renderUrl(absoluteUrl(c.url, this.o.publicUrl), vars);
    } catch (err) {
      // The caller's arguments cannot form this URL: their mistake, not the agent's (no breaker count).
      throw new HubError('invalid_arguments', `agent__${this.o.name}: ${(err as Error).message}`);
    }
    const headers = headerRecord(c.headers);
    setHeader(headers, 'accept', 'application/json');
    const init: RequestInit = { method: c.method, headers };
    if (c.body !== undefined) {
      setHeader(headers, 'content-type', 'application/json');
      init.body = JSON.stringify(renderBody(c.body, vars) ?? null);
    }
    const res = await exchange(x, url, init, false);
    const body = await jsonOf(x, res);
    return answerOf(body, c.response, this.o.name);
  }
}

/** The answer the entry's response paths read: an error when one is at `error`, else the output. */
export function answerOf(body: unknown, r: HttpAgentConfig['response'], name: string): AgentAnswer {
  const taskId = r.taskId === undefined ? undefined : readPath(body, r.taskId);
  const task = typeof taskId === 'string' || typeof taskId === 'number' ? { taskId: String(taskId) } : {};
  if (r.error !== undefined) {
    const e = readPath(body, r.error);
    if (e !== undefined && e !== null && e !== false && e !== '') {
      return { kind: 'agent_error', type: 'error', message: typeof e === 'string' ? e : JSON.stringify(e), ...task };
    }
  }
  if (typeof r.output === 'string') {
    const output = readPath(body, r.output);
    if (output === undefined) throw new AgentAttemptError('protocol', `agent ${name} answered without a value at ${r.output}`);
    return { kind: 'output', output, ...task };
  }
  // An object of paths: each field read from its own; a field with nothing there is left out,
  // so the output schema (when declared) says which ones are required.
  const output: Record<string, unknown> = {};
  for (const [field, path] of Object.entries(r.output)) {
    const v = readPath(body, path);
    if (v !== undefined) output[field] = v;
  }
  return { kind: 'output', output, ...task };
}

import {
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  isInputRequiredResult,
  type CallToolRequestParams,
  type CallToolResult,
  type CompleteRequestParams,
  type CompleteResult,
  type GetPromptResult,
  type ReadResourceResult,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { isRecord } from '../is-record.js';
import { ERROR_META_KEY, HubError, describeError, errorMeta, isHubError, outcomeOf, toHubError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { HubMetrics, ToolOutcome } from '../observability/metrics.js';
import { storeFailureOf } from '../store/sqlite-failure.js';
import { templateMatches } from './template-match.js';
import type { Catalog, Page } from './catalog.js';
import { RequestStates } from './request-state.js';
import { withoutReservedMeta } from './reserved-meta.js';
import { pollStream } from './stream-polling.js';
import { toolError, unknownTool, type CallContext, type InputRequired } from './source.js';
import { tasksExtensionRequired } from './tasks/errors.js';
import type { TaskService } from './tasks/service.js';
import { taskStarter } from './tasks/starter.js';
import { isCreateTaskResult, type CreateTaskResult } from './tasks/wire.js';

/**
 * What the MCP faces call for each request: the catalog lookup, the source call, metrics.
 * It lives outside the per-request server factory so a request costs no registration work.
 */
export class Dispatcher {
  constructor(
    readonly catalog: Catalog,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
    /** Signs the state of multi-round-trip results; shared by every face so any of them can take a retry. */
    readonly requestStates: RequestStates = new RequestStates(),
    /** The MCP Tasks registry; without one no call becomes a task. */
    readonly tasks?: TaskService,
    /** Closes a call's SSE stream once it ran this long, so its client polls (`server.pollCallStreamsMs`, src/mcp/stream-polling.ts); 0: never. */
    private readonly pollCallStreamsMs = 0,
  ) {}

  listTools(identity: Identity, cursor: string | undefined) {
    // The first list waits for servers still starting, since some clients (Claude Desktop) list once;
    // any list waits for a list a server said changed to be read again.
    const waiting = this.catalog.whenListable() ?? this.catalog.whenCurrent();
    if (waiting) return waiting.then(() => listed('tools', () => this.catalog.listTools(identity, cursor)));
    return listed('tools', () => this.catalog.listTools(identity, cursor));
  }

  /**
   * `tasks`: whether the request declared the Tasks extension; undefined on an era that has no
   * such extension (2025 sessions, stdio), where every call runs to its result.
   */
  async callTool(
    params: CallToolRequestParams,
    ctx: CallContext,
    tasks?: boolean,
  ): Promise<{ result: CallToolResult | InputRequired | CreateTaskResult; outputSchema?: Record<string, unknown> }> {
    let entry = this.catalog.resolveTool(ctx.identity, params.name);
    // A call before any list, on a first start with no cached list (a client that knows its tool
    // names): the tool may be a server's still starting. Waited for as a first tools/list waits.
    const waiting = entry ? undefined : this.catalog.whenListable();
    if (waiting) {
      await waiting;
      entry = this.catalog.resolveTool(ctx.identity, params.name);
    }
    // A tool its server added a moment ago, its list still being read again.
    const current = entry ? undefined : this.catalog.whenCurrent();
    if (current) {
      await current;
      entry = this.catalog.resolveTool(ctx.identity, params.name);
    }
    // A tool that a server still starting has gained since its cached list was written (an upgrade
    // of an `npx -y` package): looked up again once that server is up.
    const starting = entry ? undefined : this.catalog.whenStarted();
    if (starting) {
      await Promise.race([starting, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))]);
      entry = this.catalog.resolveTool(ctx.identity, params.name);
    }
    if (!entry) throw unknownTool(params.name);
    const taskSupport = entry.listed.execution?.taskSupport;
    // SEP-2663 "Required Capabilities": a tool that only runs as a task, from a client that cannot take one.
    if (tasks === false && taskSupport === 'required') throw tasksExtensionRequired(`the tool ${params.name}`);
    if (tasks === true && this.tasks && (taskSupport === 'optional' || taskSupport === 'required')) {
      ctx = { ...ctx, tasks: taskStarter(this.tasks, ctx.identity, params.name, requestedTtl(params)) };
    }
    const args = params.arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'tools/call arguments must be an object', { code: 'invalid_params' });
    }
    const started = performance.now();
    let outcome: ToolOutcome = 'ok';
    const polling = pollStream(ctx, this.pollCallStreamsMs);
    try {
      const result = await entry.source.callTool(entry.original, args, { ...(polling?.ctx ?? ctx), inputSchema: entry.listed.inputSchema });
      if (isInputRequiredResult(result) || isCreateTaskResult(result)) return { result };
      if (result.isError) outcome = ctx.signal.aborted ? 'cancelled' : 'tool_error';
      const outputSchema = entry.listed.outputSchema as Record<string, unknown> | undefined;
      return outputSchema === undefined ? { result } : { result, outputSchema };
    } catch (err) {
      // SEP-1303 (2025-11-25): arguments a hub-owned tool refuses are a tool execution error, which
      // the model reads and corrects, as downstream servers' SDKs answer them; an unknown tool is not.
      if (entry.source.kind !== 'mcp' && isArgumentRefusal(err)) {
        const e = new HubError('invalid_arguments', err.message, { cause: err });
        outcome = outcomeOf(e);
        return { result: toolError(e.message, { _meta: { [ERROR_META_KEY]: errorMeta(e) } }) };
      }
      if (err instanceof ProtocolError) {
        outcome = 'error';
        // A downstream server's own error passes as it sent it.
        throw entry.source.kind === 'mcp' ? err : withHubCode(err);
      }
      // The error table decides the rest: the metric outcome, the log level, and whether MCP shows
      // it as a tool result the model can read and recover from or as a JSON-RPC error.
      const prefix = `${entry.source.name}: `;
      // The hub's own store failing (locked past busy_timeout, a full disk) is neither the source's fault nor final.
      const e =
        !isHubError(err) && ctx.signal.aborted
          ? new HubError('cancelled', `${prefix}${describeError(err)}`, { cause: err })
          : (storeFailureOf(err, `calling ${params.name}`) ?? toHubError(err, 'source_failed', prefix));
      outcome = outcomeOf(e);
      this.metrics.observeError(entry.source.name, e.code);
      this.log[e.spec.log]({ source: entry.source.name, tool: entry.original, code: e.code, err: e.message }, 'tool call failed');
      // The code rides with the failure, so a client tells one kind from another without reading the text.
      if (e.spec.mcp.kind === 'jsonrpc') throw new ProtocolError(e.spec.mcp.code, e.message, { code: e.code });
      return { result: toolError(e.message, { _meta: { [ERROR_META_KEY]: errorMeta(e) } }) };
    } finally {
      polling?.stop();
      this.metrics.observeCall(entry.source.name, entry.original, outcome, (performance.now() - started) / 1000);
    }
  }

  listPrompts(identity: Identity, cursor: string | undefined) {
    const waiting = this.catalog.whenCurrent();
    if (waiting) return waiting.then(() => listed('prompts', () => this.catalog.listPrompts(identity, cursor)));
    return listed('prompts', () => this.catalog.listPrompts(identity, cursor));
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired> {
    const entry = this.catalog.view(ctx.identity).promptsByName.get(name);
    if (!entry?.source.getPrompt) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`, { code: 'invalid_params' });
    return withoutReservedMeta(await entry.source.getPrompt(entry.original, args, ctx));
  }

  listResources(identity: Identity, cursor: string | undefined) {
    const waiting = this.catalog.whenCurrent();
    if (waiting) return waiting.then(() => listed('resources', () => this.catalog.listResources(identity, cursor)));
    return listed('resources', () => this.catalog.listResources(identity, cursor));
  }

  listResourceTemplates(identity: Identity, cursor: string | undefined) {
    return listed('resourceTemplates', () => this.catalog.listResourceTemplates(identity, cursor));
  }

  async readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired> {
    const view = this.catalog.view(ctx.identity);
    // A listed URI is its lister's, a templated one its template's (never another server's, which
    // would be handed a URI that is not its own and might answer it); one nobody claims is asked
    // of each source in order until one serves it.
    const owner = view.resourceOwner.get(uri) ?? [...view.templateOwner].find(([t]) => templateMatches(t, uri))?.[1];
    const candidates = owner ? [owner] : this.catalog.sources().filter((s) => s.status().state === 'ready');
    for (const source of candidates) {
      const result = await source.readResource?.(uri, ctx);
      if (result) return withoutReservedMeta(result);
    }
    throw new ResourceNotFoundError(uri);
  }

  /**
   * Takes (`on`) or lets go of one hold of the identity on the URI. A source lets go only of a
   * hold the identity has (downstream/subscriptions.ts): one it has none of is nobody's to end.
   */
  async subscribe(uri: string, identity: Identity, on: boolean): Promise<void> {
    for (const source of this.catalog.sources()) {
      const handled = on ? await source.subscribeResource?.(uri, identity) : await source.unsubscribeResource?.(uri, identity);
      if (handled) return;
    }
    // No source serves updates of this URI (a typo, a resource no server lists, or one whose
    // server does not offer subscriptions): said at once, as resources/read says it, rather than a
    // subscription that never hears anything. Ending one that is not there is no mistake.
    if (on) throw new ResourceNotFoundError(uri);
  }

  async complete(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult> {
    const ref = params.ref;
    const view = this.catalog.view(ctx.identity);
    // An unknown prompt or template is the caller's mistake, answered as a server does directly
    // (-32602), not with an empty list that reads as "no suggestions".
    if (ref.type === 'ref/prompt' && !view.promptsByName.has(ref.name)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
    if (ref.type === 'ref/resource' && !view.resourceTemplates.some((t) => t.uriTemplate === ref.uri) && !view.resourceOwner.has(ref.uri))
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource template: ${ref.uri}`);
    if (ref.type === 'ref/prompt') {
      const entry = view.promptsByName.get(ref.name);
      if (entry?.source.complete) {
        const r = await entry.source.complete({ ...params, ref: { ...ref, name: entry.original } }, ctx);
        if (r) return withoutReservedMeta(r);
      }
    } else {
      for (const source of this.catalog.sources()) {
        const r = await source.complete?.(params, ctx);
        if (r) return withoutReservedMeta(r);
      }
    }
    return { completion: { values: [], hasMore: false } };
  }
}

/** A hub-owned tool's refusal of its arguments (-32602, or the hub's invalid_params raised in the call), not of the tool's name. */
function isArgumentRefusal(err: unknown): err is Error {
  if (isHubError(err)) return err.code === 'invalid_params';
  if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.InvalidParams) return false;
  const data: unknown = err.data;
  return !(isRecord(data) && data['code'] === 'tool_not_found');
}

/** The 2025-11-25 `task.ttl` a client asked for (null: unlimited, which the registry bounds); anything else is not a ttl. */
export function requestedTtl(params: CallToolRequestParams): number | undefined {
  const ttl: unknown = params.task?.ttl;
  if (ttl === null) return Number.POSITIVE_INFINITY;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0 ? ttl : undefined;
}

/** A page of a list result under the method's own key (`tools`, `prompts`, …), with its cursor when there is more. */
function listed<K extends string, T>(key: K, list: () => Page<T>): Record<K, T[]> & { nextCursor?: string } {
  const page = wrap(list);
  const out = { [key]: page.items } as Record<K, T[]> & { nextCursor?: string };
  if (page.nextCursor !== undefined) out.nextCursor = page.nextCursor;
  return out;
}

/**
 * A source's invalid-params error (arguments that do not match the tool's schema, an unknown
 * tool of an agent or the queue) with the hub's code in `data`, as every JSON-RPC error of the
 * hub carries it (docs/errors.md); what `data` said already is kept.
 */
function withHubCode(err: ProtocolError): ProtocolError {
  if (err.code !== ProtocolErrorCode.InvalidParams) return err;
  const data: unknown = err.data;
  if (data !== undefined && (!isRecord(data) || data['code'] !== undefined)) return err;
  return new ProtocolError(err.code, err.message, { ...(isRecord(data) ? data : {}), code: 'invalid_params' });
}

/** Turns hub errors raised while listing (a bad cursor) into JSON-RPC errors. */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isHubError(err) && err.spec.mcp.kind === 'jsonrpc') throw new ProtocolError(err.spec.mcp.code, err.message, { code: err.code });
    throw err;
  }
}

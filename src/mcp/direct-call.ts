import {
  CLIENT_CAPABILITIES_META_KEY,
  isInputRequiredResult,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolResult,
  type InputRequiredResult,
  type JSONRPCMessage,
  type LoggingLevel,
  type Notification,
  type Server,
  type Tool,
} from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ERROR_SPECS } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { CatalogEntry } from './catalog.js';
import { type AnswerSink, AutoAnswer, EventStreamAnswer, STREAM_KEY_PREFIX } from './direct/answer.js';
import { type DirectCall, directCallOf, requestId } from './direct/call-shape.js';
import { directEnvelopeOf, MODERN, withoutReserved } from './direct/envelope.js';
import { checkModernInputRequests, fulfilLegacy } from './direct/input-required.js';
import { CancelledByClient, HubStopping, type SessionCalls } from './direct/session-calls.js';
import type { Dispatcher } from './dispatch.js';
import { legacyLogLevel, LOGGING_LEVELS, logMessageOf, SERVER_INFO } from './server.js';
import { CallerGone, type CallContext } from './source.js';
import { declaresTasks } from './tasks/handlers.js';
import { isCreateTaskResult } from './tasks/wire.js';

/** The part of a 2025 session a direct call needs. */
export interface DirectSession {
  id: string;
  server: Server;
  identity: Identity;
  /** Its direct calls in flight, their requests to the client, and streams the hub closed mid-call. */
  calls: SessionCalls;
}

/** From this version on, a 2025 client resumes a stream the server closed (SEP-1699), as the SDK decides it. */
const RESUMABLE_FROM = '2025-11-25';

const cancelSchema = z.object({
  jsonrpc: z.literal('2.0'),
  method: z.literal('notifications/cancelled'),
  params: z.looseObject({ requestId, reason: z.string().optional() }),
});

/** What differs between the eras once a call is accepted: its context, its answer's carrier and encoding. */
interface Served {
  call: DirectCall;
  identity: Identity;
  out: AnswerSink;
  context: (signal: AbortSignal) => CallContext;
  encode: (result: CallToolResult, outputSchema: Record<string, unknown> | undefined) => CallToolResult;
  /** The capabilities the caller declared, which its input requests must fit. */
  declared: Record<string, unknown> | undefined;
  /**
   * 2025 sessions: the session's calls and this call's stream. Input requests then go to the
   * client on the stream (else the result carries them, as 2026 wants), a cancel by the client
   * leaves the stream open, and the call's waiting requests are withdrawn when it ends early.
   */
  legacy?: { calls: SessionCalls; out: EventStreamAnswer };
}

/**
 * `tools/call` answered without the SDK's transport and Server when the tool's source says its
 * calls need nothing but progress and log notifications (`ToolSource.directCalls`: agents), on a
 * 2025 session and on a 2026-07-28 request alike. The SDK's path builds a web Request, validates
 * the message and the result with zod in both layers, and pumps the answer through a web stream
 * (with an event store on 2025 sessions); on a small VM that was most of the hub's CPU per agent
 * call (`npm run bench:agents`).
 *
 * What the SDK's path does is kept: the caller's capabilities and log level reach the source,
 * progress goes out as it comes, `notifications/cancelled` (2025) and a closed connection abort
 * the call, errors keep their JSON-RPC codes, and the result is shaped as the era's codec shapes
 * it (a 2026 result carries `resultType` and the server's info). What is not kept: a 2025 answer's
 * stream carries no event ids, so it cannot be resumed after a disconnect; the call is cancelled
 * instead, as a 2026 call is, and an async agent's outcome stays readable with `agent__task_status`.
 */
export class DirectCalls {
  /** 2026-07-28 calls under way (a 2025 session's are its SessionCalls'): the hub's stop answers them. */
  private readonly modernInflight = new Set<AbortController>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {}

  /** The hub is stopping: each 2026-07-28 call still under way is cancelled at its source and answered `hub_stopping`. */
  stopModern(): void {
    for (const abort of this.modernInflight) abort.abort(new HubStopping());
  }

  /** A 2025 session's POST, served when it is a direct call or cancels one: true when answered. */
  serve(session: DirectSession, req: Request, res: Response, body: unknown): boolean {
    if (session.calls.answer(body)) {
      res.status(202).end();
      return true;
    }
    if (isMessage(body, 'notifications/cancelled')) return this.cancel(session, res, body);
    if (!isMessage(body, 'tools/call') || !acceptsBoth(req) || !knownVersion(req)) return false;
    const entry = this.directTool(session.identity, body);
    const call = entry && this.accept(entry, body);
    // The same id twice in flight: the SDK's way answers the way it always has.
    if (!call || session.calls.inflight.has(call.id)) return false;
    const meta = call.params._meta ?? {};
    const level = legacyLogLevel(session.server, session.id) ?? 'debug';
    // As the SDK's transport: a client that resumes (2025-11-25 on) gets a priming event, and only its stream may be closed mid-call.
    const version = req.headers['mcp-protocol-version'];
    const resumable = typeof version === 'string' && version >= RESUMABLE_FROM;
    const out = new EventStreamAnswer(res, { 'mcp-session-id': session.id }, resumable);
    const caps = session.server.getClientCapabilities();
    const calls = session.calls;
    const closeSSE = resumable
      ? () => {
          const key = out.detach();
          if (key) calls.park(key, out);
        }
      : undefined;
    this.start({
      call,
      identity: session.identity,
      out,
      declared: caps,
      legacy: { calls, out },
      context: (signal) => ({
        ...context(session.identity, signal, out, meta, level, caps),
        request: (r, opts) => calls.ask(out, r, opts),
        // The session's server, as the SDK's way names it (server.ts): both ways are one caller.
        caller: session.server,
        ...(closeSSE ? { closeSSE } : {}),
      }),
      encode: (result, outputSchema) => {
        const projected = session.server.projectCallToolResult(result, outputSchema);
        return projected.content === undefined ? { ...projected, content: [] } : projected;
      },
    });
    return true;
  }

  /** A 2026-07-28 POST (its headers and Mcp-Param-* already checked by the face), served when it is a direct call. */
  serveModern(identity: Identity, req: Request, res: Response, body: unknown): boolean {
    if (!isMessage(body, 'tools/call') || !acceptsBoth(req) || req.headers['mcp-protocol-version'] !== MODERN || req.headers['mcp-method'] !== 'tools/call') {
      return false;
    }
    const entry = this.directTool(identity, body);
    if (!entry) return false;
    const e = directEnvelopeOf((body as { params?: { _meta?: unknown } }).params?._meta);
    if (e === undefined) return false;
    const call = this.accept(entry, body, declaresTasks(e[CLIENT_CAPABILITIES_META_KEY]));
    if (!call || req.headers['mcp-name'] !== call.params.name) return false;
    // As the SDK's handler: an event stream when the caller asked for progress, else one JSON body
    // unless the call says something before its answer (its log messages, at the request's logLevel).
    const out = e.progressToken === undefined ? new AutoAnswer(res) : new EventStreamAnswer(res, {});
    this.start({
      call,
      identity,
      out,
      declared: e[CLIENT_CAPABILITIES_META_KEY],
      context: (signal) => context(identity, signal, out, withoutReserved(e), e[LOG_LEVEL_META_KEY], e[CLIENT_CAPABILITIES_META_KEY]),
      encode: (result) => modernResult(result),
    });
    return true;
  }

  /** The called tool, when its source takes direct calls: looked up before any parsing, so every other tools/call pays nothing more. */
  private directTool(identity: Identity, body: unknown): CatalogEntry<Tool> | undefined {
    const name = (body as { params?: { name?: unknown } }).params?.name;
    const entry = typeof name === 'string' ? this.dispatcher.catalog.resolveTool(identity, name) : undefined;
    return entry?.source.directCalls ? entry : undefined;
  }

  /**
   * The call, when its shape is the direct one. `tasks`: whether a 2026 request declared the Tasks
   * extension (a 2025 call asks with `params.task`, which the shape refuses): a call that may
   * become a task, or must, is the task machinery's.
   */
  private accept(entry: CatalogEntry<Tool>, body: unknown, tasks = false): DirectCall | undefined {
    const support = entry.listed.execution?.taskSupport;
    if (support === 'required' || (tasks && support === 'optional')) return undefined;
    return directCallOf(body);
  }

  /**
   * A 2025 session's GET with `Last-Event-ID` naming a stream the hub closed mid-call: the call's
   * stream goes on on it. True when answered, also when the stream is one of the direct path's
   * but no longer kept (the call ended unread, or the session's streams were dropped).
   */
  resume(session: DirectSession, req: Request, res: Response): boolean {
    const last = req.get('last-event-id');
    if (req.method !== 'GET' || last === undefined || !last.startsWith(STREAM_KEY_PREFIX)) return false;
    if (session.calls.resume(last, res)) return true;
    // Not 404: on a session's endpoint that tells a client its session is gone.
    res.status(400).json({
      jsonrpc: '2.0',
      id: null,
      error: { code: ProtocolErrorCode.InvalidRequest, message: 'This stream cannot be resumed: its call has ended or was cancelled' },
    });
    return true;
  }

  private cancel(session: DirectSession, res: Response, body: unknown): boolean {
    const parsed = cancelSchema.safeParse(body);
    const call = parsed.success ? session.calls.inflight.get(parsed.data.params.requestId) : undefined;
    if (!parsed.success || !call) return false;
    call.abort(new CancelledByClient(parsed.data.params.reason ?? 'cancelled by the client'));
    res.status(202).end();
    return true;
  }

  private start(s: Served): void {
    void this.run(s).catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'direct tool call failed to answer'));
  }

  private async run(s: Served): Promise<void> {
    const abort = new AbortController();
    const legacy = s.legacy;
    legacy?.calls.inflight.set(s.call.id, abort);
    if (!legacy) this.modernInflight.add(abort);
    // A 2025 client that wants a call cancelled says so (notifications/cancelled); its closed
    // connection is not a cancel: a client that resumes gets the stream back (EventStreamAnswer.onDrop),
    // and only one that cannot (before 2025-11-25) has the call end with it.
    s.out.onGone(() => abort.abort(legacy ? new CallerGone('the client closed the connection') : new Error('the client closed the connection')));
    if (legacy) {
      legacy.out.onDrop = (key) => legacy.calls.park(key, legacy.out);
      abort.signal.addEventListener('abort', () => legacy.calls.withdraw(legacy.out, abort.signal.reason), { once: true });
    }
    try {
      const message = await this.answer(s, abort.signal);
      // As in the SDK: a cancelled request gets no answer. One the hub's stop cut short does: told
      // nothing, a client would try to resume its stream at a hub that is gone, then time out.
      if (!abort.signal.aborted) s.out.end(message);
      else if (abort.signal.reason instanceof HubStopping) s.out.end({ jsonrpc: '2.0', id: s.call.id, error: stopping(s.call.params.name) });
    } finally {
      legacy?.calls.inflight.delete(s.call.id);
      this.modernInflight.delete(abort);
      if (!s.out.ended) {
        if (legacy && abort.signal.reason instanceof CancelledByClient) legacy.calls.keepOpen(legacy.out);
        else s.out.abandon();
      }
    }
  }

  private async answer(s: Served, signal: AbortSignal): Promise<JSONRPCMessage> {
    const { call } = s;
    try {
      const ctx = s.context(signal);
      let { result, outputSchema } = await this.dispatcher.callTool(call.params, ctx);
      // A source that takes direct calls gets no task starter; say so rather than send it half-done.
      if (isCreateTaskResult(result)) {
        throw new ProtocolError(ProtocolErrorCode.InternalError, `${call.params.name} answered a direct call with an unfinished result`);
      }
      if (isInputRequiredResult(result)) {
        const legacy = s.legacy;
        if (!legacy) return { jsonrpc: '2.0', id: call.id, result: await this.inputRequired(s, result) };
        result = await fulfilLegacy(result, {
          again: async (round) => {
            const next = await this.dispatcher.callTool(call.params, { ...ctx, ...round });
            outputSchema = next.outputSchema;
            if (isCreateTaskResult(next.result))
              throw new ProtocolError(ProtocolErrorCode.InternalError, `${call.params.name} answered a direct call with a task`);
            return next.result;
          },
          ask: (r, opts) => legacy.calls.ask(legacy.out, r, opts),
          declared: s.declared,
          signal,
        });
      }
      return { jsonrpc: '2.0', id: call.id, result: s.encode(result, outputSchema) };
    } catch (err) {
      return { jsonrpc: '2.0', id: call.id, error: errorOf(err) };
    }
  }

  /**
   * 2026-07-28: the result goes to the client as the SDK's handler sends it: its requests checked
   * against the request's capabilities, its state sealed by the hub for this caller and tool (the
   * retry then goes the SDK's way, which opens it), the server's info stamped.
   */
  private async inputRequired(s: Served, result: InputRequiredResult): Promise<InputRequiredResult> {
    checkModernInputRequests(result, s.declared);
    const sealed = await this.dispatcher.requestStates.seal(result, { identity: s.identity, method: 'tools/call', name: s.call.params.name });
    return withServerInfo(sealed);
  }
}

function context(
  identity: Identity,
  signal: AbortSignal,
  out: AnswerSink,
  meta: Record<string, unknown>,
  level: LoggingLevel | undefined,
  caps: Record<string, unknown> | undefined,
): CallContext {
  const { progressToken: token, ...rest } = meta;
  const ctx: CallContext = {
    identity,
    signal,
    meta: rest,
    notify: async (n: Notification) => {
      const log = n.method === 'notifications/message' ? logMessageOf(n.params) : undefined;
      // No level: the caller wants no logs (2026 without logLevel); else those at or above it.
      if (log && (level === undefined || severity(log.level) < severity(level))) return;
      await out.send({ jsonrpc: '2.0', method: n.method, ...(n.params === undefined ? {} : { params: n.params }) });
    },
  };
  if (level !== undefined) ctx.logLevel = level;
  if (caps) ctx.clientCapabilities = caps;
  if (typeof token === 'string' || typeof token === 'number') {
    ctx.reportProgress = async (p) => out.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, ...p } });
  }
  return ctx;
}

/**
 * A result as the SDK's 2026-07-28 codec writes it for tools/call: a text rendering appended when
 * the structured content is not an object, `content` present, `resultType` stamped, and the
 * server's info in `_meta` (spec: servers SHOULD include it on every response).
 */
function modernResult(result: CallToolResult): CallToolResult {
  const sc = result.structuredContent as unknown;
  const nonObject = sc !== undefined && (typeof sc !== 'object' || sc === null || Array.isArray(sc));
  const content = result.content ?? [];
  const withText = nonObject && !content.some((c) => c.type === 'text') ? [...content, { type: 'text' as const, text: JSON.stringify(sc) }] : content;
  return withServerInfo({ ...result, content: withText, resultType: 'complete' } as CallToolResult);
}

/** The server's info in a result's `_meta`, unless it holds one (the SDK's last encoding step on 2026-07-28). */
function withServerInfo<T extends { _meta?: Record<string, unknown> }>(result: T): T {
  const meta = result._meta;
  return meta?.[SERVER_INFO_META_KEY] !== undefined ? result : { ...result, _meta: { ...meta, [SERVER_INFO_META_KEY]: SERVER_INFO } };
}

/** `hub_stopping`, as the JSON-RPC error its row in the error table gives. */
function stopping(tool: string): { code: number; message: string; data: { code: 'hub_stopping' } } {
  const message = `the hub stopped before ${tool} finished (it was cancelled at its server); call it again once the hub is back`;
  const spec = ERROR_SPECS.hub_stopping.mcp;
  return { code: spec.kind === 'jsonrpc' ? spec.code : ProtocolErrorCode.InternalError, message, data: { code: 'hub_stopping' } };
}

/** The JSON-RPC error the SDK's Protocol would send for a thrown error. */
function errorOf(err: unknown): { code: number; message: string; data?: unknown } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; data?: unknown };
  const code = typeof e.code === 'number' && Number.isSafeInteger(e.code) ? e.code : ProtocolErrorCode.InternalError;
  return {
    // Both codecs' one translation: "resource not found" is sent as an invalid-params error.
    code: code === -32002 ? -32602 : code,
    message: typeof e.message === 'string' ? e.message : 'Internal error',
    ...(e.data !== undefined && { data: e.data }),
  };
}

function severity(level: LoggingLevel): number {
  return LOGGING_LEVELS.indexOf(level);
}

function isMessage(body: unknown, method: string): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { method?: unknown }).method === method;
}

function acceptsBoth(req: Request): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && accept.includes('text/event-stream');
}

function knownVersion(req: Request): boolean {
  const v = req.headers['mcp-protocol-version'];
  return v === undefined || (typeof v === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(v));
}

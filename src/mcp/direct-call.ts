import {
  isInputRequiredResult,
  ProtocolError,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolResult,
  type JSONRPCMessage,
  type LoggingLevel,
  type Notification,
  type Server,
} from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Identity } from '../identity/identity.js';
import type { Dispatcher } from './dispatch.js';
import { STREAM_START_HOLD_MS } from './modern-node.js';
import { legacyLogLevel, logMessageOf, LOGGING_LEVELS } from './server.js';
import type { CallContext } from './source.js';
import { isCreateTaskResult } from './tasks/wire.js';

/** The part of a 2025 session a direct call needs. */
export interface DirectSession {
  id: string;
  server: Server;
  identity: Identity;
  /** Direct calls in flight by request id, for `notifications/cancelled`. */
  inflight: Map<string | number, AbortController>;
}

const requestId = z.union([z.string(), z.number().int()]);

/**
 * The one request shape served directly: a single 2025-11-25 `tools/call`, not task-augmented.
 * Anything else (batches, tasks, unknown shapes) goes the SDK's way, which also answers its errors.
 */
const directCallSchema = z.object({
  jsonrpc: z.literal('2.0'),
  id: requestId,
  method: z.literal('tools/call'),
  params: z.looseObject({
    name: z.string(),
    arguments: z.record(z.string(), z.unknown()).optional(),
    _meta: z.looseObject({ progressToken: z.union([z.string(), z.number()]).optional() }).optional(),
    task: z.undefined().optional(),
  }),
});

type DirectCall = z.infer<typeof directCallSchema>;

const cancelSchema = z.object({
  jsonrpc: z.literal('2.0'),
  method: z.literal('notifications/cancelled'),
  params: z.looseObject({ requestId, reason: z.string().optional() }),
});

/**
 * `tools/call` on a 2025 session, answered without the SDK's transport and Server when the tool's
 * source says its calls need nothing of a session but progress and log notifications
 * (`ToolSource.directCalls`: agents). The SDK's path builds a web Request, validates the message
 * and the result with zod in both layers, and pumps the answer through a web stream with an event
 * store; on a small VM that was most of the hub's CPU per agent call (`npm run bench:agents`).
 *
 * What the SDK's path does is kept: the session's client capabilities and log level reach the
 * source, progress goes out as it comes, `notifications/cancelled` and a closed connection abort
 * the call, errors keep their JSON-RPC codes, and the result is projected against the tool's
 * output schema by the session's Server. What is not kept: the answer's stream carries no event
 * ids, so it cannot be resumed after a disconnect; the call is cancelled instead, as a 2026-era
 * call would be, and an async agent's outcome stays readable with `agent__task_status`.
 */
export class DirectCalls {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
  ) {}

  /** Serves the POST when it is a direct call or cancels one: true when it answered. */
  serve(session: DirectSession, req: Request, res: Response, body: unknown): boolean {
    if (isMessage(body, 'notifications/cancelled')) return this.cancel(session, res, body);
    if (!isMessage(body, 'tools/call') || !acceptsBoth(req) || !knownVersion(req)) return false;
    const parsed = directCallSchema.safeParse(body);
    if (!parsed.success) return false;
    const entry = this.dispatcher.catalog.resolveTool(session.identity, parsed.data.params.name);
    if (!entry?.source.directCalls) return false;
    // The same id twice in flight: the SDK's way answers the way it always has.
    if (session.inflight.has(parsed.data.id)) return false;
    void this.run(session, parsed.data, res).catch((err: unknown) =>
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'direct tool call failed to answer'),
    );
    return true;
  }

  private cancel(session: DirectSession, res: Response, body: unknown): boolean {
    const parsed = cancelSchema.safeParse(body);
    const call = parsed.success ? session.inflight.get(parsed.data.params.requestId) : undefined;
    if (!parsed.success || !call) return false;
    call.abort(new Error(parsed.data.params.reason ?? 'cancelled by the client'));
    res.status(202).end();
    return true;
  }

  private async run(session: DirectSession, call: DirectCall, res: Response): Promise<void> {
    const abort = new AbortController();
    session.inflight.set(call.id, abort);
    const out = new CallStream(res, session.id);
    const onClose = () => {
      if (!out.ended) abort.abort(new Error('the client closed the connection'));
    };
    res.once('close', onClose);
    try {
      const message = await this.answer(session, call, abort.signal, out);
      // As in the SDK: a cancelled request gets no answer.
      if (!abort.signal.aborted) out.end(message);
    } finally {
      session.inflight.delete(call.id);
      res.off('close', onClose);
      if (!out.ended) out.abandon();
    }
  }

  private async answer(session: DirectSession, call: DirectCall, signal: AbortSignal, out: CallStream): Promise<JSONRPCMessage> {
    try {
      const { result, outputSchema } = await this.dispatcher.callTool(call.params, this.context(session, call, signal, out));
      // A source that takes direct calls answers neither (it gets no task starter); say so rather than send it half-done.
      if (isInputRequiredResult(result) || isCreateTaskResult(result)) {
        throw new ProtocolError(ProtocolErrorCode.InternalError, `${call.params.name} answered a direct call with an unfinished result`);
      }
      const projected: CallToolResult = session.server.projectCallToolResult(result, outputSchema);
      return { jsonrpc: '2.0', id: call.id, result: projected.content === undefined ? { ...projected, content: [] } : projected };
    } catch (err) {
      return { jsonrpc: '2.0', id: call.id, error: errorOf(err) };
    }
  }

  private context(session: DirectSession, call: DirectCall, signal: AbortSignal, out: CallStream): CallContext {
    const { progressToken, ...meta } = call.params._meta ?? {};
    const level = legacyLogLevel(session.server, session.id) ?? 'debug';
    const ctx: CallContext = {
      identity: session.identity,
      signal,
      meta,
      logLevel: level,
      notify: async (n: Notification) => {
        const log = n.method === 'notifications/message' ? logMessageOf(n.params) : undefined;
        if (log && severity(log.level) < severity(level)) return;
        await out.send({ jsonrpc: '2.0', method: n.method, ...(n.params === undefined ? {} : { params: n.params }) });
      },
    };
    const caps = session.server.getClientCapabilities();
    if (caps) ctx.clientCapabilities = caps;
    if (progressToken !== undefined) {
      ctx.reportProgress = async (p) => out.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken, ...p } });
    }
    return ctx;
  }
}

/** The JSON-RPC error the SDK's Protocol would send for a thrown error (2025 codes). */
function errorOf(err: unknown): { code: number; message: string; data?: unknown } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; data?: unknown };
  const code = typeof e.code === 'number' && Number.isSafeInteger(e.code) ? e.code : ProtocolErrorCode.InternalError;
  return {
    // The 2025 codec's one translation: "resource not found" is an invalid-params error there.
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

/**
 * The call's answer as an event stream shaped like the SDK's (same headers and events, no ids):
 * headers wait up to STREAM_START_HOLD_MS for the first event, events written in one tick leave
 * in one write, and the result leaves with the end of the response.
 */
class CallStream {
  ended = false;
  private started = false;
  private corked = false;
  private readonly hold: NodeJS.Timeout;

  constructor(
    private readonly res: Response,
    private readonly sessionId: string,
  ) {
    this.hold = setTimeout(() => {
      // A call with nothing to say yet: its client learns the stream is open.
      this.start();
      this.res.flushHeaders();
    }, STREAM_START_HOLD_MS);
  }

  /**
   * Resolves once the event is written or, when the client reads slower than it comes, once the
   * socket drains: a source that awaits it (the agents' progress reporter merges what arrives
   * meanwhile) holds no more than a socket's buffer of unsent events.
   */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.ended || this.res.destroyed) return Promise.resolve();
    this.start();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      setImmediate(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    if (this.res.write(event(message))) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  end(message: JSONRPCMessage): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.hold);
    if (this.res.destroyed) return;
    this.start();
    this.res.end(event(message));
  }

  /** No answer (cancelled): the stream ends empty. */
  abandon(): void {
    this.ended = true;
    clearTimeout(this.hold);
    if (this.res.destroyed) return;
    this.start();
    this.res.end();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    clearTimeout(this.hold);
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'mcp-session-id': this.sessionId,
    });
  }
}

function event(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

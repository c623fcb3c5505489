import { randomUUID } from 'node:crypto';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isInitializeRequest,
  classifyInboundRequest,
  type AuthInfo,
  type McpHttpHandler,
  type Server,
} from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { identityKey, type Identity } from '../identity/identity.js';
import type { HubMetrics } from '../observability/metrics.js';
import type { Catalog } from './catalog.js';
import type { Dispatcher } from './dispatch.js';
import { BoundedEventStore } from './event-store.js';
import { checkParamHeaders, HEADER_MISMATCH } from './param-headers.js';
import { createHubServer } from './server.js';
import type { SourceChange } from './source.js';

interface Session {
  id: string;
  transport: NodeStreamableHTTPServerTransport;
  server: Server;
  identity: Identity;
  lastSeen: number;
  subscriptions: Set<string>;
}

export interface HttpFaceOptions {
  dispatcher: Dispatcher;
  catalog: Catalog;
  metrics: HubMetrics;
  log: Logger;
  clock: Clock;
  maxBodyBytes: number;
  /** A 2025 session with no request for this long is closed; clients re-initialize on 404. */
  sessionIdleMs?: number;
  maxSessions?: number;
}

/** The identity the auth middleware resolved, carried on AuthInfo.extra. */
export function identityFromAuth(auth: AuthInfo | undefined): Identity {
  const id = auth?.extra?.['identity'] as Identity | undefined;
  if (!id) throw new Error('request reached the MCP face without an identity');
  return id;
}

function header<K extends string>(req: Request, name: string, key: K): Partial<Record<K, string>> {
  const v = req.headers[name];
  return typeof v === 'string' ? ({ [key]: v } as Record<K, string>) : {};
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/**
 * `/mcp` for both protocol eras. 2025-11-25 clients get a session (list_changed pushes,
 * server→client requests, resumable streams); 2026-07-28 requests are served statelessly by
 * a per-request Server from the SDK's handler. Routing uses the SDK's own classifier.
 */
export class HttpFace {
  private readonly sessions = new Map<string, Session>();
  private readonly modern: McpHttpHandler;
  private readonly modernNode: ReturnType<typeof toNodeHandler>;
  private readonly sweeper: NodeJS.Timeout;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly opts: HttpFaceOptions) {
    this.modern = createMcpHandler((ctx) => createHubServer(opts.dispatcher, identityFromAuth(ctx.authInfo), 'modern'), {
      legacy: 'reject',
      maxRequestBodySize: opts.maxBodyBytes,
      onerror: (err) => opts.log.debug({ err: err.message }, 'mcp request rejected'),
    });
    this.modernNode = toNodeHandler(this.modern, { maxRequestBodySize: opts.maxBodyBytes });
    this.unsubscribe.push(opts.catalog.onChange((c) => this.announce(c)));
    this.unsubscribe.push(opts.catalog.onResourceUpdated((uri) => this.resourceUpdated(uri)));
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  readonly handle = async (req: Request, res: Response): Promise<void> => {
    const identity = identityFromAuth(req.auth);
    const parsed: unknown = req.body;
    // The SDK's own classifier, fed the few fields it reads: no Request object per call.
    const legacy =
      req.method !== 'POST' ||
      classifyInboundRequest({
        httpMethod: req.method,
        body: parsed,
        ...header(req, 'mcp-protocol-version', 'protocolVersionHeader'),
        ...header(req, 'mcp-method', 'mcpMethodHeader'),
        ...header(req, 'mcp-name', 'mcpNameHeader'),
      }).kind === 'legacy';
    if (!legacy) {
      if (req.method === 'POST' && this.rejectParamHeaders(identity, parsed, req, res)) return;
      await this.modernNode(req, res, req.method === 'POST' ? parsed : undefined);
      return;
    }
    const sid = req.get('mcp-session-id');
    if (sid !== undefined) {
      const session = this.sessions.get(sid);
      // A session belongs to the identity that opened it; to anyone else it does not exist.
      if (!session || identityKey(session.identity) !== identityKey(identity)) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      session.lastSeen = this.opts.clock.now();
      await session.transport.handleRequest(req, res, parsed);
      return;
    }
    if (req.method === 'POST' && isInitializeRequest(parsed)) {
      if (this.sessions.size >= (this.opts.maxSessions ?? 10_000)) {
        jsonRpcError(res, 503, -32000, 'Too many open sessions; try again later');
        return;
      }
      await this.openSession(identity, req, res, parsed);
      return;
    }
    jsonRpcError(res, 400, -32000, 'Bad Request: no valid session ID provided');
  };

  /** SEP-2243: answers a tools/call whose Mcp-Param-* headers disagree with its arguments (400, -32020). */
  private rejectParamHeaders(identity: Identity, body: unknown, req: Request, res: Response): boolean {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
    const msg = body as { method?: unknown; id?: unknown; params?: { name?: unknown; arguments?: unknown } };
    if (msg.method !== 'tools/call' || typeof msg.params?.name !== 'string') return false;
    const tool = this.opts.catalog.resolveTool(identity, msg.params.name);
    if (!tool) return false;
    const rejection = checkParamHeaders(tool.listed.inputSchema, msg.params.arguments, (h) => req.get(h)?.trim());
    if (!rejection) return false;
    const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : null;
    const message = `Bad Request: the request headers and body disagree: ${rejection.message}`;
    res.status(400).json({ jsonrpc: '2.0', id, error: { code: HEADER_MISMATCH, message, data: { mismatch: { header: rejection.header, body: rejection.message } } } });
    return true;
  }

  private async openSession(identity: Identity, req: Request, res: Response, body: unknown): Promise<void> {
    const subscriptions = new Set<string>();
    const server = createHubServer(this.opts.dispatcher, identity, 'legacy', {
      onSubscribe: (uri, on) => (on ? subscriptions.add(uri) : subscriptions.delete(uri)),
    });
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(),
      // Sent as the SSE `retry` field: when the hub closes a stream mid-call (SEP-1699 polling),
      // the client knows how soon to come back with Last-Event-ID.
      retryInterval: 1_000,
      onsessioninitialized: (id) => {
        this.sessions.set(id, { id, transport, server, identity, lastSeen: this.opts.clock.now(), subscriptions });
        this.opts.metrics.mcpSessions.set({ era: 'legacy' }, this.sessions.size);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && this.sessions.delete(id)) this.opts.metrics.mcpSessions.set({ era: 'legacy' }, this.sessions.size);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  /** Tells the clients that see a change to list again. */
  private announce(change: SourceChange): void {
    const keys = change.identities ? new Set(change.identities.map(identityKey)) : undefined;
    for (const s of this.sessions.values()) {
      if (keys && !keys.has(identityKey(s.identity))) continue;
      const send =
        change.kind === 'tools' ? s.server.sendToolListChanged() : change.kind === 'prompts' ? s.server.sendPromptListChanged() : s.server.sendResourceListChanged();
      send.catch(() => {});
    }
    // 2026-era listeners are not tied to an identity the bus can see; a spurious list_changed only costs a re-list.
    if (change.kind === 'tools') this.modern.notify.toolsChanged();
    else if (change.kind === 'prompts') this.modern.notify.promptsChanged();
    else this.modern.notify.resourcesChanged();
  }

  private resourceUpdated(uri: string): void {
    for (const s of this.sessions.values()) {
      if (s.subscriptions.has(uri)) s.server.sendResourceUpdated({ uri }).catch(() => {});
    }
    this.modern.notify.resourceUpdated(uri);
  }

  private sweep(): void {
    const idle = this.opts.sessionIdleMs ?? 60 * 60_000;
    const now = this.opts.clock.now();
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > idle) void s.transport.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const u of this.unsubscribe) u();
    await Promise.all([...this.sessions.values()].map((s) => s.transport.close().catch(() => {})));
    this.sessions.clear();
    await this.modern.close();
  }
}

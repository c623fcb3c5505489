import { isInitializeRequest, type Server, type WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { DRAIN_MS } from '../http/listener.js';
import type { Clock } from '../clock.js';
import { jsonRpcHttpError, sendError, type JsonRpcErrorCode } from '../errors.js';
import { identityKey, type Identity } from '../identity/identity.js';
import { watchRevocations, type RevocationSource } from '../identity/revocation-watch.js';
import type { HubMetrics } from '../observability/metrics.js';
import { followNotices } from './http-notices.js';
import { isListen, watchWhileOpen } from './listen-watch.js';
import type { Catalog } from './catalog.js';
import type { Dispatcher } from './dispatch.js';
import { isLegacyInbound } from './classify-era.js';
import { DirectCalls } from './direct-call.js';
import { HubStopping, SessionCalls } from './direct/session-calls.js';
import { DEFAULT_LIMITS, refuseOverLimit, StreamCounter, type IdentityLimits, type LimitName } from './identity-limits.js';
import { identityFromAuthInfo, ModernHandlers } from './modern-handlers.js';
import type { NodeServe } from './modern-node.js';
import { initializeProblem } from './initialize-check.js';
import { hasRoundedId, isRequest, requestIdOf, ROUNDED_ID_MESSAGE } from './json-rpc-id.js';
import { paramHeaderMismatch } from './param-headers.js';
import { createHubServer } from './server.js';
import { sessionTransport, type SessionTransport } from './session-transport.js';
import { CallerGone } from './source.js';
import { strayTo } from './stray.js';
import type { FaceReplicas } from '../replicas/hub-events.js';

interface Session {
  id: string;
  transport: WebStandardStreamableHTTPServerTransport;
  /** The session's transport served from Node with the body express parsed. */
  serve: NodeServe;
  server: Server;
  identity: Identity;
  lastSeen: number;
  subscriptions: Set<string>;
  /** Requests in flight and streams open on the session: a busy session is never evicted. */
  busy: number;
  /** Tool calls served without the SDK (src/mcp/direct-call.ts): in flight, asking the client, or closed mid-call. */
  calls: SessionCalls;
}

/**
 * An identity at its session limit gets its least recently used session closed when that one has
 * nothing in flight, no open stream, and no request for this long. A client that went away without
 * DELETE (a restarted desktop app) leaves exactly such sessions; a live client keeps its GET stream.
 */
const EVICTABLE_AFTER_MS = 10_000;

/** A hub-wide cap, far above any one identity's limit, as a last bound on memory. */
const MAX_SESSIONS = 10_000;

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
  limits?: IdentityLimits;
  /** Where revocations come from; with it a revoked token's sessions and streams are closed. */
  tokens?: RevocationSource;
  /** How often other processes' revocations are looked for. */
  revocationPollMs?: number;
  /** Sends a 2026-07-28 retry or task request whose state another replica holds there, answering `res` (true); false leaves it here (src/replicas/forward.ts). */
  forward?: { handle(req: Request, res: Response, body: unknown, owner: Identity): Promise<boolean> };
  /** Several replicas: per-user list changes and resource updates reach the sessions and streams every replica holds. */
  replicas?: FaceReplicas;
}

function header<K extends string>(req: Request, name: string, key: K): Partial<Record<K, string>> {
  const v = req.headers[name];
  return typeof v === 'string' ? ({ [key]: v } as Record<K, string>) : {};
}

function jsonRpcError(res: Response, code: JsonRpcErrorCode, message: string): void {
  sendError(res, jsonRpcHttpError(code, message));
}

/**
 * A GET without a session has no stream to be given: the spec answers a GET with a stream or 405
 * ("no SSE stream at this endpoint"), and 405 is what clients that open their GET stream before
 * initializing (the AI SDK's MCP client, on 2025 sessions) take quietly, where a 400 was reported
 * as "GET SSE failed: 400 Bad Request" at every connect. They open it again with the session.
 */
function refuseSessionlessGet(res: Response): void {
  const answer = jsonRpcHttpError(
    'bad_request',
    'Method Not Allowed: a GET stream belongs to a session: POST initialize first, then GET with its Mcp-Session-Id (2026-07-28 clients use subscriptions/listen)',
  );
  res.status(405).set('Allow', 'POST').json(answer.body);
}

/** A session is used only with the token that opened it, so revoking that token ends its use. */
function sameHolder(a: Identity, b: Identity): boolean {
  return identityKey(a) === identityKey(b) && a.tokenId === b.tokenId;
}

/**
 * `/mcp` for both protocol eras. 2025-11-25 clients get a session (list_changed pushes,
 * server→client requests, resumable streams); 2026-07-28 requests are served statelessly by
 * a per-request Server from the SDK's handler. Routing uses the SDK's own classifier.
 */
export class HttpFace {
  /** Set when the hub starts to stop: new work is refused from then on (refuseStopping). */
  private closing = false;
  private readonly sessions = new Map<string, Session>();
  private readonly byIdentity = new Map<string, Set<Session>>();
  /** Sessions being initialized, per identity, so concurrent initializes cannot overshoot the limit. */
  private readonly opening = new Map<string, number>();
  private readonly streams = new StreamCounter();
  private readonly inFlight = new StreamCounter();
  /** 2026-era responses in flight (listen streams and calls), per token, for revocation to end. */
  private readonly modernByToken = new Map<string, Set<Response>>();
  private readonly limits: IdentityLimits;
  private readonly stopRevocations: () => void = () => {};
  private readonly modern: ModernHandlers;
  private readonly direct: DirectCalls;
  private readonly sweeper: NodeJS.Timeout;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly opts: HttpFaceOptions) {
    this.modern = new ModernHandlers({ dispatcher: opts.dispatcher, log: opts.log, clock: opts.clock, maxBodyBytes: opts.maxBodyBytes });
    this.direct = new DirectCalls(opts.dispatcher, opts.log);
    const sessions = () => this.sessions.values();
    this.unsubscribe.push(followNotices({ catalog: opts.catalog, sessions, modern: this.modern, ...(opts.replicas ? { replicas: opts.replicas } : {}) }));
    this.unsubscribe.push(opts.catalog.onStray(strayTo((who) => this.byIdentity.get(identityKey(who)))));
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    if (opts.tokens) {
      this.stopRevocations = watchRevocations({
        source: opts.tokens,
        live: () => this.liveTokenIds(),
        onRevoked: (id) => this.closeToken(id),
        ...(opts.revocationPollMs === undefined ? {} : { everyMs: opts.revocationPollMs }),
      });
    }
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  readonly handle = async (req: Request, res: Response): Promise<void> => {
    // The identity the auth middleware resolved, carried on AuthInfo.extra.
    const identity = identityFromAuthInfo(req.auth);
    const parsed: unknown = req.body;
    // A stopping hub takes no new work (a session, a stream, a request) — it would be cut off within
    // the drain — but still takes what ends work under way: answers, cancels, a session's DELETE.
    if (this.closing && (req.method === 'GET' || (req.method === 'POST' && isRequest(parsed)))) return void this.refuseStopping(res, parsed);
    // The SDK's refusal of such an id, in either era, would echo the rounded number: another
    // request's id. Without the text JSON.parse read it from, null (JSON-RPC 2.0 §5).
    if (req.method === 'POST' && hasRoundedId(parsed)) return void sendError(res, jsonRpcHttpError('bad_request', ROUNDED_ID_MESSAGE));
    // One identity's requests in flight are bounded, so its flood cannot take every connection the hub
    // has. Not its notifications and answers: a cancel, or an elicitation's answer, ends a call.
    if (isRequest(parsed) && !isListen(parsed) && !this.inFlight.acquire(identityKey(identity), res, this.limits.requestsPerIdentity))
      return void this.overLimit(res, identity, 'requestsPerIdentity', requestIdOf(parsed), 'Wait for one of them to finish.');
    // The SDK's own classifier (with its answer for plain 2025 messages known up front), fed the few fields it reads.
    const legacy =
      req.method !== 'POST' ||
      isLegacyInbound({
        httpMethod: req.method,
        body: parsed,
        ...header(req, 'mcp-protocol-version', 'protocolVersionHeader'),
        ...header(req, 'mcp-method', 'mcpMethodHeader'),
        ...header(req, 'mcp-name', 'mcpNameHeader'),
      });
    if (!legacy) {
      if (req.method === 'POST' && (await this.opts.forward?.handle(req, res, parsed, identity))) return;
      // SEP-2243: Mcp-Param-* headers that disagree with the arguments get 400, -32020.
      const mismatch =
        req.method === 'POST' &&
        paramHeaderMismatch(
          parsed,
          (name) => this.opts.catalog.resolveTool(identity, name)?.listed.inputSchema,
          (h) => req.get(h)?.trim(),
        );
      if (mismatch) return void sendError(res, mismatch);
      if (isListen(parsed) && !this.streams.acquire(identityKey(identity), res, this.limits.streamsPerIdentity)) {
        this.overLimit(res, identity, 'streamsPerIdentity', requestIdOf(parsed), 'Close a subscriptions/listen stream first.');
        return;
      }
      if (isListen(parsed)) await watchWhileOpen(this.opts.dispatcher, identity, parsed, res, this.opts.log);
      this.trackModern(identity, res);
      if (req.method === 'POST' && this.direct.serveModern(identity, req, res, parsed)) return;
      const modern = this.modern.serve(identity, res);
      if (req.method === 'POST' && parsed !== undefined) await modern.parsed(req, res, parsed);
      else await modern.node(req, res, req.method === 'POST' ? parsed : undefined);
      return;
    }
    const sid = req.get('mcp-session-id');
    if (sid !== undefined) {
      const session = this.sessions.get(sid);
      // A session belongs to the token that opened it; to anyone else it does not exist.
      if (!session || !sameHolder(session.identity, identity)) {
        jsonRpcError(res, 'session_not_found', 'Session not found');
        return;
      }
      // A GET is the standalone stream (or a resumption of one): it stays open until closed.
      if (req.method === 'GET' && !this.streams.acquire(identityKey(identity), res, this.limits.streamsPerIdentity)) {
        this.overLimit(res, identity, 'streamsPerIdentity', null, 'Close a stream or a session (DELETE /mcp) first.');
        return;
      }
      session.lastSeen = this.opts.clock.now();
      session.busy++;
      res.once('close', () => {
        session.busy--;
        session.lastSeen = this.opts.clock.now();
      });
      if (req.method === 'POST' ? this.direct.serve(session, req, res, parsed) : this.direct.resume(session, req, res)) return;
      await session.serve(req, res, parsed);
      return;
    }
    if (req.method === 'POST' && isInitializeRequest(parsed)) {
      if (this.sessions.size >= (this.opts.maxSessions ?? MAX_SESSIONS)) {
        jsonRpcError(res, 'too_many_sessions', 'Too many open sessions; try again later');
        return;
      }
      const key = identityKey(identity);
      if (!this.roomForSession(key)) {
        this.overLimit(
          res,
          identity,
          'sessionsPerIdentity',
          requestIdOf(parsed),
          'Every open session is in use; close one (DELETE /mcp with its Mcp-Session-Id) first.',
        );
        return;
      }
      this.opening.set(key, (this.opening.get(key) ?? 0) + 1);
      try {
        await this.openSession(identity, req, res, parsed);
      } finally {
        const left = (this.opening.get(key) ?? 1) - 1;
        if (left > 0) this.opening.set(key, left);
        else this.opening.delete(key);
      }
      return;
    }
    const initialize = req.method === 'POST' ? initializeProblem(parsed) : undefined;
    if (initialize) return void sendError(res, jsonRpcHttpError(initialize.code, initialize.message, { id: requestIdOf(parsed) }));
    if (req.method === 'GET') return void refuseSessionlessGet(res);
    jsonRpcError(res, 'session_required', 'Bad Request: no valid session ID provided');
  };

  private async openSession(identity: Identity, req: Request, res: Response, body: unknown): Promise<void> {
    const subscriptions = new Set<string>();
    const server = createHubServer(this.opts.dispatcher, identity, 'legacy', {
      onSubscribe: (uri, on) => (on ? subscriptions.add(uri) : subscriptions.delete(uri)),
    });
    const { transport, serve }: SessionTransport = sessionTransport({
      subscriptions,
      log: this.opts.log,
      onsessioninitialized: (id) => {
        const session: Session = { id, transport, serve, server, identity, lastSeen: this.opts.clock.now(), subscriptions, busy: 0, calls: new SessionCalls() };
        this.sessions.set(id, session);
        const key = identityKey(identity);
        const own = this.byIdentity.get(key) ?? new Set<Session>();
        own.add(session);
        this.byIdentity.set(key, own);
        this.opts.metrics.setSessions('legacy', this.sessions.size);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      const session = id === undefined ? undefined : this.sessions.get(id);
      if (session) this.forget(session);
    };
    await server.connect(transport);
    await serve(req, res, body);
  }

  /**
   * Whether the identity may open one more session: under its limit, or at it with an evictable
   * session, which is closed here (its client gets 404 next time and, per the spec, re-initializes).
   */
  private roomForSession(key: string): boolean {
    const own = this.byIdentity.get(key);
    const max = this.limits.sessionsPerIdentity;
    if ((own?.size ?? 0) + (this.opening.get(key) ?? 0) < max) return true;
    const now = this.opts.clock.now();
    let lru: Session | undefined;
    for (const s of own ?? []) {
      if (s.busy === 0 && now - s.lastSeen >= EVICTABLE_AFTER_MS && (!lru || s.lastSeen < lru.lastSeen)) lru = s;
    }
    if (!lru) return false;
    this.opts.log.info({ identity: key, session: lru.id, idleMs: now - lru.lastSeen }, 'session limit reached: closed the least recently used idle session');
    this.forget(lru);
    void lru.transport.close().catch(() => {});
    return (own?.size ?? 0) + (this.opening.get(key) ?? 0) < max;
  }

  private overLimit(res: Response, identity: Identity, limit: LimitName, id: string | number | null, hint: string): void {
    this.opts.log.debug({ identity: identityKey(identity), limit, max: this.limits[limit] }, 'per-identity limit reached');
    refuseOverLimit(res, limit, this.limits[limit], id, hint);
  }

  private forget(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    // A session closed (DELETE, revocation, eviction, idle) ends its direct calls, as the SDK's
    // transport ends the streams it owns.
    session.calls.close(new CallerGone('the session was closed'));
    for (const uri of session.subscriptions) void this.opts.dispatcher.subscribe(uri, session.identity, false).catch(() => {}); // the server's watch too
    const key = identityKey(session.identity);
    const own = this.byIdentity.get(key);
    own?.delete(session);
    if (own?.size === 0) this.byIdentity.delete(key);
    this.opts.metrics.setSessions('legacy', this.sessions.size);
  }

  private trackModern(identity: Identity, res: Response): void {
    const token = identity.tokenId;
    if (token === undefined) return;
    const set = this.modernByToken.get(token) ?? new Set<Response>();
    set.add(res);
    this.modernByToken.set(token, set);
    res.once('close', () => {
      set.delete(res);
      if (set.size === 0 && this.modernByToken.get(token) === set) this.modernByToken.delete(token);
    });
  }

  private *liveTokenIds(): Iterable<string> {
    yield* this.modernByToken.keys();
    for (const s of this.sessions.values()) if (s.identity.tokenId !== undefined) yield s.identity.tokenId;
  }

  /** Ends everything a revoked token holds open: its sessions (with their streams) and its 2026 streams and calls. */
  private closeToken(tokenId: string): void {
    let sessions = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.identity.tokenId !== tokenId) continue;
      this.forget(s);
      void s.transport.close().catch(() => {});
      sessions++;
    }
    const open = this.modernByToken.get(tokenId);
    this.modernByToken.delete(tokenId);
    // Destroying the response aborts the SDK's handling of it; the client sees its stream end.
    for (const res of open ?? []) res.destroy();
    if (sessions > 0 || (open?.size ?? 0) > 0)
      this.opts.log.info({ tokenId, sessions, streams: open?.size ?? 0 }, 'token revoked: closed its sessions and streams');
  }

  private sweep(): void {
    const idle = this.opts.sessionIdleMs ?? 60 * 60_000;
    const now = this.opts.clock.now();
    for (const s of this.sessions.values()) if (now - s.lastSeen > idle) void s.transport.close().catch(() => {});
    this.modern.sweep();
  }

  /** 503 with Retry-After, as /readyz says `stopping`: a balancer's other replicas (or this hub restarted) take it. */
  private refuseStopping(res: Response, parsed: unknown): void {
    res.setHeader('Retry-After', '1');
    res.setHeader('Connection', 'close');
    sendError(
      res,
      jsonRpcHttpError(
        'hub_stopping',
        'the hub is stopping and takes no new requests; send it again in a moment (to the hub once restarted, or another replica)',
        {
          id: requestIdOf(parsed),
        },
      ),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    this.stopRevocations();
    for (const u of this.unsubscribe) u();
    // A stop is no cancel: requests under way get the listener's drain to finish; a call still
    // running then (a 2025 session's, or a 2026 request's) is answered hub_stopping as it unwinds,
    // before its stream closes: told nothing, a client waits out its timeout on a hub that is gone.
    await this.inFlight.settled(DRAIN_MS);
    for (const s of this.sessions.values()) s.calls.close(new HubStopping());
    this.direct.stopModern();
    await this.inFlight.settled(500);
    await Promise.all([...this.sessions.values()].map((s) => s.transport.close().catch(() => {})));
    this.sessions.clear();
    this.byIdentity.clear();
    await this.modern.close();
  }
}

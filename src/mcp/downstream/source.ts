import type { Client } from '@modelcontextprotocol/client';
import {
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type CompleteRequestParams,
  type CompleteResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/server';
import { isStdioServer } from '../../config/schema.js';
import { describeError, HubError } from '../../errors.js';
import type { Identity } from '../../identity/identity.js';
import type { CachedLists } from '../../store/list-cache.js';
import type { CallContext, ChangeKind, InputRequired, SourceChange, SourceStatus, ToolSource } from '../source.js';
import type { CreateTaskResult } from '../tasks/backings/downstream.js';
import { restartDelay, STABLE_AFTER_MS } from './backoff.js';
import { asProtocolError, callFailure } from './call-failure.js';
import { DownstreamCalls } from './calls.js';
import { isModernClient, modernParams } from './modern.js';
import { forwardProgress } from './progress.js';
import { keepAlive, type KeepAliveHandle } from './keepalive.js';
import { declaresRoots, hubClient } from './hub-client.js';
import { ListChanges } from './list-changes.js';
import { fetchLists, fingerprint, listReading, movedKinds, NO_LISTS, withKind } from './lists.js';
import { claimsResource, ResourceWatch } from './subscriptions.js';
import { againOnNewSession, SessionEnded } from './session-ended.js';
import { startFailure } from './start-failure.js';
import { onStreamGivenUp } from './stream-given-up.js';
import { describeConnectError, isUnreachable } from './connect-error.js';
import type { DownstreamOptions } from './source-options.js';
import { exitSummary, hasSessionId, reason, type Reason, sharedProcess, transportFor, framed } from './transport-for.js';

type PriorVerdict = { kind: 'legacy' } | undefined;

/**
 * One downstream MCP server as a tool source: connects as a client (version negotiation `auto`),
 * caches its lists, and supervises it — a crashed or unreachable server is restarted with backoff
 * while the rest of the hub carries on.
 */
export class DownstreamSource implements ToolSource {
  readonly kind = 'mcp';
  readonly name: string;
  readonly prefix: boolean;

  private client: Client | undefined;
  private transport: Transport | undefined;
  private state: SourceStatus;
  private listed: CachedLists = NO_LISTS;
  private readonly listeners = new Set<(c: SourceChange) => void>();
  private readonly resourceListeners = new Set<(uri: string) => void>();
  private readonly calls: DownstreamCalls;
  private readonly watch: ResourceWatch;
  /** The state's detail as callers are told it (state.detail, whole, is for /readyz and doctor). */
  private callerDetail: string | undefined;
  private failures = 0;
  private connectedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private keepalive: KeepAliveHandle | undefined;
  private changes: ListChanges | undefined;
  /** The connection a restart replaces, closed when the restart is due. */
  private retired: Client | undefined;
  /** When the restart scheduled last is due (epoch ms). */
  private restartAt = 0;
  /** Each connection's transport, for how a call cut by its end was ended. */
  private readonly transportOf = new WeakMap<Client, Transport>();
  private stateWaiters: Array<() => void> = [];
  private stopping = false;
  private verdict: PriorVerdict;
  private generation = 0;

  constructor(private readonly opts: DownstreamOptions) {
    this.name = opts.name;
    this.prefix = opts.config.prefix;
    this.state = { state: opts.config.disabled ? 'disabled' : 'starting', since: opts.clock.now(), restarts: 0 };
    this.watch = new ResourceWatch(opts.config.timeoutMs);
    if (opts.legacy) this.verdict = { kind: 'legacy' };
    this.calls = new DownstreamCalls({
      name: opts.name,
      config: opts.config,
      unavailable: () => `${this.name} is not available: ${this.callerDetail ?? this.state.state}`,
      failure: (err, ctx, what, signal = ctx.signal, client) => {
        // How the call's own connection ended (by then a restart may have made another), as its caller is told.
        const exitSummaryOf = () => exitSummary((client && this.transportOf.get(client)) ?? this.transport, sharedProcess(this.opts)).caller;
        if (client && client === this.client && isUnreachable(err)) this.unreachable(describeConnectError(err));
        throw callFailure(err, { server: this.name, what, timeoutMs: opts.config.timeoutMs, signal, exitSummary: exitSummaryOf });
      },
      ...(opts.onStray ? { stray: opts.onStray } : {}),
    });
  }

  /** Resolves once the list refreshes the server announced have ended; undefined when none runs. */
  listsSettled(): Promise<void> | undefined {
    return this.changes?.settled();
  }

  status(): SourceStatus {
    return { ...this.state };
  }

  /** The lists as last loaded from the server. */
  lists(): CachedLists {
    return this.listed;
  }

  /** Calls in flight or held between rounds: a connection with any is not idle. */
  get busy(): number {
    return this.calls.busy;
  }

  /** Whether an HTTP server gave this connection a session (`Mcp-Session-Id`): a 2025 face without one cannot ask the client anything. */
  get hasSession(): boolean {
    return this.state.state === 'ready' && hasSessionId(this.transport);
  }

  /** Checks on the server now rather than at the next keepalive (another connection to it found it restarted). */
  checkNow(): void {
    this.keepalive?.check();
  }

  /** A call found the HTTP server unreachable: reconnect now, not at the keepalive's second miss; the server's other connections are told. */
  unreachable(detail: string): void {
    if (isStdioServer(this.opts.config)) return;
    this.lost(this.generation, reason(`unreachable: ${detail}`));
    this.opts.onUnreachable?.(detail);
  }

  /** Resolves once the first attempt has connected or failed; failures keep retrying in the background. */
  async start(): Promise<void> {
    if (this.opts.config.disabled) return;
    this.stopping = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.calls.abortAll();
    clearTimeout(this.restartTimer);
    this.keepalive?.stop();
    // Together: each close of an HTTP connection may wait a moment for the DELETE of its session (session-delete.ts).
    await Promise.all([this.retired, this.client].map((client) => client?.close().catch(() => {})));
    this.retired = this.client = undefined;
    await this.transport?.close().catch(() => {});
    this.setState('stopped');
  }

  tools(_identity: Identity): readonly Tool[] {
    return this.listed.tools;
  }
  resources(_identity: Identity): readonly Resource[] {
    return this.listed.resources;
  }
  resourceTemplates(_identity: Identity): readonly ResourceTemplate[] {
    return this.listed.resourceTemplates;
  }
  prompts(_identity: Identity): readonly Prompt[] {
    return this.listed.prompts;
  }

  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResourceUpdated(listener: (uri: string) => void): () => void {
    this.resourceListeners.add(listener);
    return () => this.resourceListeners.delete(listener);
  }

  callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired | CreateTaskResult> {
    const send = () => this.calls.callTool(this.readyClient(), tool, args, ctx);
    return againOnNewSession(this, ctx.signal, send, (e) => new HubError('downstream_error', `${this.name}: ${e.message}`, { cause: e }));
  }

  readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired | undefined> {
    const send = () => this.readOnce(uri, ctx);
    return againOnNewSession(this, ctx.signal, send, (e) => asProtocolError(this.name, e, `resource ${uri}`));
  }

  private async readOnce(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired | undefined> {
    const client = this.readyClient();
    if (!client?.getServerCapabilities()?.resources) return undefined;
    const known = claimsResource(this.listed, uri);
    try {
      // The caller's progress token is mapped back: what the server reports reaches it, as directly.
      const modern = isModernClient(client);
      const params = { uri, ...(modern ? modernParams(ctx) : {}) } as { uri: string };
      const send = (o: object) => forwardProgress(ctx, (p) => client.readResource(params, { ...o, ...(modern ? { allowInputRequired: true } : {}), ...p }));
      return (await this.calls.track(ctx, send)) as ReadResourceResult | InputRequired;
    } catch (err) {
      // An unknown URI is another source's; a failure on one we listed is ours to report.
      if (!known && err instanceof ProtocolError) return undefined;
      if (err instanceof SessionEnded) throw err;
      throw asProtocolError(this.name, err, `resource ${uri}`);
    }
  }

  /** While the server restarts, its last connection's lists decide, and the subscription is made once it is back (ResourceWatch.renew). */
  async subscribeResource(uri: string): Promise<boolean> {
    const client = this.readyClient();
    const last = client ?? this.client;
    if (!last?.getServerCapabilities()?.resources?.subscribe || !claimsResource(this.listed, uri)) return false;
    // A session the server ended: the URI is kept, and the new session subscribes to it (renew).
    await this.watch.subscribe(client, uri).catch((err: unknown) => {
      if (!(err instanceof SessionEnded)) throw err;
    });
    return true;
  }

  async unsubscribeResource(uri: string): Promise<boolean> {
    return this.watch.unsubscribe(this.readyClient(), uri);
  }

  getPrompt(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired> {
    const send = () => this.promptOnce(name, args, ctx);
    return againOnNewSession(this, ctx.signal, send, (e) => asProtocolError(this.name, e, `prompt ${name}`));
  }

  private async promptOnce(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired> {
    const client = this.readyClient();
    if (!client) throw new ProtocolError(ProtocolErrorCode.InternalError, `${this.name} is not available`);
    try {
      const modern = isModernClient(client);
      const params = { name, ...(args ? { arguments: args } : {}), ...(modern ? modernParams(ctx) : {}) } as { name: string };
      const send = (o: object) => forwardProgress(ctx, (p) => client.getPrompt(params, { ...o, ...(modern ? { allowInputRequired: true } : {}), ...p }));
      return (await this.calls.track(ctx, send)) as GetPromptResult | InputRequired;
    } catch (err) {
      throw err instanceof SessionEnded ? err : asProtocolError(this.name, err, `prompt ${name}`);
    }
  }

  async complete(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult | undefined> {
    const client = this.readyClient();
    if (!client?.getServerCapabilities()?.completions) return undefined;
    if (params.ref.type === 'ref/resource' && !this.listed.resourceTemplates.some((t) => t.uriTemplate === (params.ref as { uri: string }).uri))
      return undefined;
    try {
      return await client.complete(params, { signal: ctx.signal, timeout: this.opts.config.timeoutMs });
    } catch {
      return undefined;
    }
  }

  private readyClient(): Client | undefined {
    return this.state.state === 'ready' ? this.client : undefined;
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const { config, log } = this.opts;
    // The HTTP client stack (node:https and its TLS) loads with the first HTTP server, not with every hub.
    const http = isStdioServer(config) ? undefined : (await import('./http-transport.js')).HubHttpTransport;
    const onSessionEnded = () => this.lost(gen, reason(new SessionEnded().message), this.opts.onSessionEnded);
    const [onCut, onSessionDoubt] = [(tag: string, cause?: unknown) => this.calls.streamCut(tag, cause), () => this.checkNow()];
    // Ended by the hub (a message over maxMessageBytes): restarting from now, before the failed call is
    // answered, so a call its caller makes at once waits for the new process instead of meeting the old one's end.
    const onViolation = () => this.lost(gen, framed(exitSummary(transport, sharedProcess(this.opts)), 'exited (', ')'));
    const transport = transportFor({ ...this.opts, onCut, onSessionEnded, onSessionDoubt, onViolation }, http);
    const changes = new ListChanges((kind) =>
      this.refresh(gen, kind).catch((err: unknown) => log.warn({ source: this.name, kind, err: describeError(err) }, 'could not refresh a downstream list')),
    );
    this.changes = changes;
    const roots = declaresRoots(this.opts);
    const client = await hubClient(roots, changes);
    this.calls.install(client, log, { roots });
    this.transportOf.set(client, transport);
    client.setNotificationHandler('notifications/resources/updated', (n) => {
      for (const l of this.resourceListeners) l(n.params.uri);
    });
    this.client = client;
    this.transport = transport;
    client.onclose = () => this.lost(gen, framed(exitSummary(this.transport, sharedProcess(this.opts)), 'exited (', ')'));
    try {
      await client.connect(transport, {
        timeout: this.opts.connectTimeoutMs ?? 30_000,
        ...(this.verdict ? { prior: this.verdict } : {}),
      });
      if (gen !== this.generation || this.stopping) return;
      changes.install(client);
      if (!client.getDiscoverResult()) this.verdict = { kind: 'legacy' };
      const before = fingerprint(this.listed);
      this.listed = await fetchLists(client, NO_LISTS, 'all', listReading(this.opts));
      if (gen !== this.generation || this.stopping) return;
      this.connectedAt = this.opts.clock.now();
      void this.watch.renew(client).catch((err: unknown) => log.warn({ source: this.name, err: describeError(err) }, 'could not renew resource subscriptions'));
      const pv = client.getNegotiatedProtocolVersion();
      this.calls.taskLink = this.opts.tasks?.attach(this.name, client, this.opts.config.timeoutMs);
      this.calls.calledSinceReady = false;
      this.setState('ready', undefined, pv);
      // An HTTP server whose lists the hub holds may restart, change them unannounced or go, and any process may hang: keepalive.ts.
      if (this.opts.role !== 'session' || isStdioServer(config)) {
        const reread = (kind: ChangeKind) => this.refresh(gen, kind, true);
        this.keepalive = keepAlive({ client, transport, reread, onLost: (d) => this.lost(gen, reason(d)), intervalMs: this.opts.keepaliveMs });
        if (!isStdioServer(config)) onStreamGivenUp(transport, () => this.checkNow());
      }
      log[this.opts.role === 'session' ? 'debug' : 'info'](
        { source: this.name, protocolVersion: pv, tools: this.listed.tools.length },
        'downstream server ready',
      );
      // After a restart the lists are usually unchanged; announce only what really moved (the tools always on the first start).
      const moved = movedKinds(before, fingerprint(this.listed));
      if (this.state.restarts === 0 && !moved.includes('tools')) moved.unshift('tools');
      for (const kind of moved) this.emit({ kind });
    } catch (err) {
      if (gen !== this.generation || this.stopping) return;
      const why = startFailure(err, transport, sharedProcess(this.opts));
      if (isUnreachable(err)) this.opts.onUnreachable?.(describeConnectError(err));
      log.warn({ source: this.name, detail: why.detail }, 'downstream server failed to start');
      // A server that dies on the version probe gets the plain 2025 handshake next time.
      if (this.verdict === undefined && isStdioServer(config)) this.verdict = { kind: 'legacy' };
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      this.scheduleRestart(why);
    }
  }

  /** Reads a list again: announced when the server said it changed, or (`ifMoved`) when it did. */
  private async refresh(gen: number, kind: SourceChange['kind'], ifMoved = false): Promise<void> {
    const client = this.client;
    if (!client || gen !== this.generation) return;
    const fresh = await fetchLists(client, this.listed, kind, { ...listReading(this.opts), cache: 'refresh' });
    if (gen !== this.generation) return;
    const moved = fingerprint(this.listed)[kind] !== fingerprint(fresh)[kind];
    this.listed = withKind(this.listed, fresh, kind);
    // Announced during the handshake (server-everything adds tools once initialized): connect() tells of its lists once ready.
    if (this.state.state !== 'ready') return;
    if (moved || !ifMoved) this.emit({ kind, ...(!ifMoved && this.calls.calledSinceReady ? { afterCall: true } : {}) });
  }

  /** The connection ended: the process exited, the HTTP server ended the session or stopped answering (`then`, once, if so). */
  private lost(gen: number, detail: Reason, then?: () => void): void {
    if (this.stopping || gen !== this.generation) return;
    // A close before the handshake finished (a spawn ENOENT, an early exit) is connect()'s to
    // report: it holds the cause, and restarting here first would discard it.
    if (this.state.state !== 'ready') return;
    this.opts.log.warn({ source: this.name, detail: detail.detail }, 'downstream server disconnected');
    if (this.opts.clock.now() - this.connectedAt >= STABLE_AFTER_MS) this.failures = 0;
    // Closed when the restart is due, not now: the request that met the ended session is to fail
    // as such (and be sent again), not as cut by the close. Already closed after an exit.
    this.retired = this.client;
    this.client = undefined;
    this.scheduleRestart(detail);
    then?.();
  }

  private scheduleRestart(detail: Reason): void {
    this.keepalive?.stop();
    this.keepalive = undefined;
    if (this.stopping) return;
    this.generation++;
    const delay = restartDelay(this.failures++, this.opts.restartBaseMs === undefined ? {} : { baseMs: this.opts.restartBaseMs });
    this.restartAt = this.opts.clock.now() + delay;
    this.setState('restarting', framed(detail, '', `; restarting in ${delay} ms`));
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      void this.retired?.close().catch(() => {});
      this.retired = undefined;
      this.state.restarts++;
      if (this.opts.role !== 'session') this.opts.metrics.sourceRestarts.inc({ source: this.name });
      void this.connect();
    }, delay);
    this.restartTimer.unref();
  }

  private setState(state: SourceStatus['state'], detail?: Reason, protocolVersion?: string): void {
    const restarts = this.state.restarts;
    this.state = { state, since: this.opts.clock.now(), restarts };
    this.callerDetail = detail?.caller;
    if (detail !== undefined) this.state.detail = detail.detail;
    if (protocolVersion !== undefined) this.state.protocolVersion = protocolVersion;
    if (this.opts.role !== 'session') this.opts.metrics.setSourceUp(this.name, state === 'ready');
    const waiting = this.stateWaiters;
    this.stateWaiters = [];
    for (const wake of waiting) wake();
  }

  /** Resolves at the next change of state: a restart that came up or failed again, a stop. */
  nextState(): Promise<void> {
    return new Promise((resolve) => this.stateWaiters.push(resolve));
  }

  /** Whether a restart is scheduled within `ms` from now. */
  restartWithin(ms: number): boolean {
    return this.state.state === 'restarting' && this.restartAt - this.opts.clock.now() <= ms;
  }

  /** Whether a caller watches a resource through this connection (it is not idle then). */
  get watching(): boolean {
    return this.watch.size > 0;
  }

  private emit(change: SourceChange): void {
    for (const l of this.listeners) l(change);
  }
}

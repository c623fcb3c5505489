import type { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
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
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { isStdioServer, type McpServerConfig } from '../../config/schema.js';
import { describeError } from '../../errors.js';
import type { Identity } from '../../identity/identity.js';
import type { HubMetrics } from '../../observability/metrics.js';
import { SERVER_INFO } from '../server.js';
import { toolError, type CallContext, type SourceChange, type SourceStatus, type ToolSource } from '../source.js';
import { restartDelay, STABLE_AFTER_MS } from './backoff.js';
import { nodeFetch } from './node-fetch.js';
import { withoutReservedMeta } from './results.js';
import { loadClientSdk } from './sdk.js';
import { ChildStdioTransport } from './stdio-transport.js';

export interface DownstreamOptions {
  name: string;
  config: McpServerConfig;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  /** Time allowed for spawn + handshake + first listing. */
  connectTimeoutMs?: number;
  /** Restart backoff base, for tests that crash a server many times. */
  restartBaseMs?: number;
}

type PriorVerdict = { kind: 'legacy' } | undefined;

const STDERR_TAIL = 20;

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
  private toolList: Tool[] = [];
  private resourceList: Resource[] = [];
  private templateList: ResourceTemplate[] = [];
  private promptList: Prompt[] = [];
  private readonly listeners = new Set<(c: SourceChange) => void>();
  private readonly resourceListeners = new Set<(uri: string) => void>();
  private readonly inflight: CallContext[] = [];
  private readonly stderrTail: string[] = [];
  private failures = 0;
  private connectedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private verdict: PriorVerdict;
  private generation = 0;

  constructor(private readonly opts: DownstreamOptions) {
    this.name = opts.name;
    this.prefix = opts.config.prefix;
    this.state = { state: opts.config.disabled ? 'disabled' : 'starting', since: opts.clock.now(), restarts: 0 };
  }

  status(): SourceStatus {
    return { ...this.state };
  }

  /** Resolves once the first attempt has connected or failed; failures keep retrying in the background. */
  async start(): Promise<void> {
    if (this.opts.config.disabled) return;
    this.stopping = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
    await this.transport?.close().catch(() => {});
    this.setState('stopped');
  }

  tools(_identity: Identity): readonly Tool[] {
    return this.toolList;
  }
  resources(_identity: Identity): readonly Resource[] {
    return this.resourceList;
  }
  resourceTemplates(_identity: Identity): readonly ResourceTemplate[] {
    return this.templateList;
  }
  prompts(_identity: Identity): readonly Prompt[] {
    return this.promptList;
  }

  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResourceUpdated(listener: (uri: string) => void): () => void {
    this.resourceListeners.add(listener);
    return () => this.resourceListeners.delete(listener);
  }

  async callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult> {
    const client = this.readyClient();
    if (!client) return toolError(`${this.name} is not available: ${this.state.detail ?? this.state.state}`);
    const timeoutMs = this.opts.config.timeoutMs;
    this.inflight.push(ctx);
    try {
      const params = { name: tool, ...(args === undefined ? {} : { arguments: args }), ...(ctx.meta && Object.keys(ctx.meta).length ? { _meta: ctx.meta } : {}) };
      const report = ctx.reportProgress;
      // Progress is forwarded in order and flushed before the result, so none arrives after it.
      let forwarded = Promise.resolve();
      const result = await client.callTool(params, {
        signal: ctx.signal,
        timeout: timeoutMs,
        maxTotalTimeout: timeoutMs,
        ...(report
          ? {
              onprogress: (p) => {
                const update = { progress: p.progress, ...(p.total === undefined ? {} : { total: p.total }), ...(p.message === undefined ? {} : { message: p.message }) };
                forwarded = forwarded.then(() => report(update)).catch(() => {});
              },
            }
          : {}),
      });
      await forwarded;
      return withoutReservedMeta(result);
    } catch (err) {
      return this.callFailure(err, ctx, `tool ${tool}`);
    } finally {
      this.inflight.splice(this.inflight.indexOf(ctx), 1);
    }
  }

  async readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | undefined> {
    const client = this.readyClient();
    if (!client || !client.getServerCapabilities()?.resources) return undefined;
    const known = this.resourceList.some((r) => r.uri === uri);
    try {
      return await client.readResource({ uri }, { signal: ctx.signal, timeout: this.opts.config.timeoutMs });
    } catch (err) {
      // An unknown URI is another source's; a failure on one we listed is ours to report.
      if (!known && err instanceof ProtocolError) return undefined;
      throw this.asProtocolError(err, `resource ${uri}`);
    }
  }

  async subscribeResource(uri: string): Promise<boolean> {
    const client = this.readyClient();
    if (!client?.getServerCapabilities()?.resources?.subscribe || !this.resourceList.some((r) => r.uri === uri)) return false;
    await client.subscribeResource({ uri });
    return true;
  }

  async unsubscribeResource(uri: string): Promise<boolean> {
    const client = this.readyClient();
    if (!client?.getServerCapabilities()?.resources?.subscribe || !this.resourceList.some((r) => r.uri === uri)) return false;
    await client.unsubscribeResource({ uri });
    return true;
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult> {
    const client = this.readyClient();
    if (!client) throw new ProtocolError(ProtocolErrorCode.InternalError, `${this.name} is not available`);
    try {
      return await client.getPrompt({ name, ...(args ? { arguments: args } : {}) }, { signal: ctx.signal, timeout: this.opts.config.timeoutMs });
    } catch (err) {
      throw this.asProtocolError(err, `prompt ${name}`);
    }
  }

  async complete(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult | undefined> {
    const client = this.readyClient();
    if (!client?.getServerCapabilities()?.completions) return undefined;
    if (params.ref.type === 'ref/resource' && !this.templateList.some((t) => t.uriTemplate === (params.ref as { uri: string }).uri)) return undefined;
    try {
      return await client.complete(params, { signal: ctx.signal, timeout: this.opts.config.timeoutMs });
    } catch {
      return undefined;
    }
  }

  private readyClient(): Client | undefined {
    return this.state.state === 'ready' ? this.client : undefined;
  }

  private callFailure(err: unknown, ctx: CallContext, what: string): CallToolResult {
    if (err instanceof ProtocolError && err.code === ProtocolErrorCode.InvalidParams) throw err; // the client's mistake: say so in kind
    if (ctx.signal.aborted) return toolError(`${this.name}: ${what} was cancelled`);
    if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) {
      return toolError(`${this.name}: ${what} timed out after ${this.opts.config.timeoutMs} ms`);
    }
    if (err instanceof SdkError && (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.NotConnected || err.code === SdkErrorCode.SendFailed)) {
      return toolError(`${this.name}: the server stopped during the call (${this.exitSummary()}); it is being restarted`);
    }
    return toolError(`${this.name}: ${describeError(err)}`);
  }

  private asProtocolError(err: unknown, what: string): ProtocolError {
    if (err instanceof ProtocolError) return err;
    return new ProtocolError(ProtocolErrorCode.InternalError, `${this.name}: ${what} failed: ${describeError(err)}`);
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const { config, log } = this.opts;
    // The client half of the SDK loads with the first downstream server, not with every hub.
    const sdk = await loadClientSdk();
    const transport = this.makeTransport(sdk.StreamableHTTPClientTransport);
    const client = new sdk.Client(
      { name: SERVER_INFO.name, version: SERVER_INFO.version },
      {
        capabilities: { sampling: {}, elicitation: { form: {}, url: {} } },
        // A 2025-era stdio server that never answers the probe is legacy: fall back after 5 s, not
        // after the whole connect timeout.
        versionNegotiation: { mode: 'auto', probe: { timeoutMs: 5_000 } },
        listChanged: {
          tools: { autoRefresh: false, onChanged: () => void this.refresh(gen, 'tools') },
          resources: { autoRefresh: false, onChanged: () => void this.refresh(gen, 'resources') },
          prompts: { autoRefresh: false, onChanged: () => void this.refresh(gen, 'prompts') },
        },
      },
    );
    this.forwardServerRequests(client);
    client.setNotificationHandler('notifications/resources/updated', (n) => {
      for (const l of this.resourceListeners) l(n.params.uri);
    });
    client.setNotificationHandler('notifications/message', (n) => {
      const call = this.inflight.at(-1);
      if (call) void call.notify(n).catch(() => {});
      else log.debug({ source: this.name, level: n.params.level }, 'downstream log message');
    });
    this.client = client;
    this.transport = transport;
    client.onclose = () => {
      if (gen === this.generation) this.onDisconnect(gen);
    };
    try {
      await client.connect(transport, {
        timeout: this.opts.connectTimeoutMs ?? 30_000,
        ...(this.verdict ? { prior: this.verdict } : {}),
      });
      if (gen !== this.generation || this.stopping) return;
      if (!client.getDiscoverResult()) this.verdict = { kind: 'legacy' };
      const before = this.listsFingerprint();
      await this.loadLists(client);
      if (gen !== this.generation || this.stopping) return;
      this.connectedAt = this.opts.clock.now();
      const pv = client.getNegotiatedProtocolVersion();
      this.setState('ready', undefined, pv);
      log.info({ source: this.name, protocolVersion: pv, tools: this.toolList.length }, 'downstream server ready');
      // After a restart the lists are usually unchanged; announce only what really moved.
      const after = this.listsFingerprint();
      if (before.tools !== after.tools || this.state.restarts === 0) this.emit({ kind: 'tools' });
      if (before.resources !== after.resources) this.emit({ kind: 'resources' });
      if (before.prompts !== after.prompts) this.emit({ kind: 'prompts' });
    } catch (err) {
      if (gen !== this.generation || this.stopping) return;
      const detail = `could not connect: ${describeError(err)}${this.stderrTail.length ? ` (stderr: ${this.stderrTail.at(-1)})` : ''}`;
      log.warn({ source: this.name, err: describeError(err) }, 'downstream server failed to start');
      // A server that dies on the version probe gets the plain 2025 handshake next time.
      if (this.verdict === undefined && isStdioServer(config)) this.verdict = { kind: 'legacy' };
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      this.scheduleRestart(detail);
    }
  }

  private makeTransport(Http: typeof StreamableHTTPClientTransport): Transport {
    const { config, log } = this.opts;
    if (isStdioServer(config)) {
      const t = new ChildStdioTransport({ command: config.command, args: config.args, env: config.env, cwd: config.cwd });
      const lines = createInterface({ input: t.stderr });
      lines.on('line', (line) => {
        this.stderrTail.push(line.slice(0, 500));
        if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
        log.debug({ source: this.name, stderr: line.slice(0, 2000) }, 'downstream stderr');
      });
      return t;
    }
    return new Http(new URL(config.url), { requestInit: { headers: config.headers }, fetch: nodeFetch });
  }

  /** Downstream sampling/elicitation requests go to the client of the call that is in flight. */
  private forwardServerRequests(client: Client): void {
    for (const method of ['sampling/createMessage', 'elicitation/create'] as const) {
      client.setRequestHandler(method, async (req, ctx) => {
        const call = [...this.inflight].reverse().find((c) => c.request);
        if (!call?.request) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `${method} is not available: no client connection can answer it`);
        return (await call.request({ method, params: req.params }, { signal: ctx.mcpReq.signal })) as never;
      });
    }
  }

  private async loadLists(client: Client): Promise<void> {
    const caps = client.getServerCapabilities();
    const opts = { timeout: this.opts.connectTimeoutMs ?? 30_000 };
    this.toolList = caps?.tools ? (await client.listTools(undefined, opts)).tools : [];
    this.resourceList = caps?.resources ? (await client.listResources(undefined, opts)).resources : [];
    this.templateList = caps?.resources ? (await client.listResourceTemplates(undefined, opts).catch(() => ({ resourceTemplates: [] }))).resourceTemplates : [];
    this.promptList = caps?.prompts ? (await client.listPrompts(undefined, opts)).prompts : [];
  }

  private async refresh(gen: number, kind: SourceChange['kind']): Promise<void> {
    const client = this.client;
    if (!client || gen !== this.generation) return;
    try {
      const opts = { timeout: this.opts.connectTimeoutMs ?? 30_000, cache: 'refresh' as const };
      if (kind === 'tools') this.toolList = (await client.listTools(undefined, opts)).tools;
      else if (kind === 'prompts') this.promptList = (await client.listPrompts(undefined, opts)).prompts;
      else {
        this.resourceList = (await client.listResources(undefined, opts)).resources;
        this.templateList = (await client.listResourceTemplates(undefined, opts).catch(() => ({ resourceTemplates: [] }))).resourceTemplates;
      }
      if (gen === this.generation) this.emit({ kind });
    } catch (err) {
      this.opts.log.warn({ source: this.name, kind, err: describeError(err) }, 'could not refresh a downstream list');
    }
  }

  private onDisconnect(gen: number): void {
    if (this.stopping || gen !== this.generation) return;
    // A close before the handshake finished (a spawn ENOENT, an early exit) is connect()'s to
    // report: it holds the cause, and restarting here first would discard it.
    if (this.state.state !== 'ready') return;
    const detail = `exited (${this.exitSummary()})`;
    this.opts.log.warn({ source: this.name, detail }, 'downstream server disconnected');
    if (this.opts.clock.now() - this.connectedAt >= STABLE_AFTER_MS) this.failures = 0;
    this.client = undefined;
    this.scheduleRestart(detail);
  }

  private listsFingerprint(): { tools: string; resources: string; prompts: string } {
    return {
      tools: JSON.stringify(this.toolList),
      resources: JSON.stringify([this.resourceList, this.templateList]),
      prompts: JSON.stringify(this.promptList),
    };
  }

  private scheduleRestart(detail: string): void {
    if (this.stopping) return;
    this.generation++;
    const delay = restartDelay(this.failures++, this.opts.restartBaseMs === undefined ? {} : { baseMs: this.opts.restartBaseMs });
    this.setState('restarting', `${detail}; restarting in ${delay} ms`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.state.restarts++;
      this.opts.metrics.sourceRestarts.inc({ source: this.name });
      void this.connect();
    }, delay);
    this.restartTimer.unref();
  }

  private exitSummary(): string {
    const info = this.transport instanceof ChildStdioTransport ? this.transport.exitInfo : undefined;
    const how = info ? (info.signal ? `signal ${info.signal}` : `exit code ${info.code}`) : 'connection closed';
    const last = this.stderrTail.at(-1);
    return last ? `${how}; stderr: ${last}` : how;
  }

  private setState(state: SourceStatus['state'], detail?: string, protocolVersion?: string): void {
    const restarts = this.state.restarts;
    this.state = { state, since: this.opts.clock.now(), restarts };
    if (detail !== undefined) this.state.detail = detail;
    if (protocolVersion !== undefined) this.state.protocolVersion = protocolVersion;
    this.opts.metrics.sourceUp.set({ source: this.name }, state === 'ready' ? 1 : 0);
  }

  private emit(change: SourceChange): void {
    for (const l of this.listeners) l(change);
  }
}

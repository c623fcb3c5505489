import type {
  CallToolResult,
  CompleteRequestParams,
  CompleteResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/server';
import { createHash } from 'node:crypto';
import { isStdioServer } from '../../config/schema.js';
import { describeError } from '../../errors.js';
import { identityKey, type Identity } from '../../identity/identity.js';
import type { CachedLists, ListCache } from '../../store/list-cache.js';
import { toolError, type CallContext, type InputRequired, type SourceChange, type SourceStatus, type ToolSource } from '../source.js';
import type { CreateTaskResult } from '../tasks/wire.js';
import { fingerprint } from './lists.js';
import { DownstreamSource, type DownstreamOptions } from './source.js';

export interface DownstreamServerOptions extends DownstreamOptions {
  /** Last-known lists, so the first tools/list holds this server's tools before it has answered. */
  listCache?: ListCache;
  /** How long an identity's own connection stays open without calls. */
  sessionIdleMs?: number;
  /**
   * With a cached list, a stdio server's process starts once this settles (the hub's first answer
   * to its stdio client, or a moment after start): that answer needs only the cache, and on a
   * small machine the server's own start competed with the hub's for the CPU. A call meanwhile
   * waits for the server as it waits for any server still starting.
   */
  startGate?: Promise<void>;
}

const SESSION_IDLE_MS = 5 * 60_000;

/**
 * One configured downstream server as a tool source. Its main connection lists the server's tools
 * and watches for changes. Calls go over a connection of the caller's own wherever a connection
 * carries server→client traffic that must not reach another user: a session per identity for a
 * 2025-era HTTP server, and a process per identity for a stdio server with `isolation: "user"`.
 */
export class DownstreamServer implements ToolSource {
  readonly kind = 'mcp';
  readonly directCalls = true;
  readonly name: string;
  readonly prefix: boolean;
  private readonly main: DownstreamSource;
  private readonly sessions = new Map<string, { link: DownstreamSource; started: Promise<void>; lastUsed: number }>();
  private readonly listeners = new Set<(c: SourceChange) => void>();
  private readonly configHash: string;
  /** Lists from the cache, served until the main connection has listed. */
  private cached: CachedLists | undefined;
  /** What clients were last shown, so a reconnect that lists the same announces nothing. */
  private served: CachedLists | undefined;
  private firstAttempt: Promise<void> | undefined;
  /** Set by stop(): a start still waiting at the gate does not happen. */
  private stopped = false;
  private readonly listable: Promise<void>;
  private markListable: () => void = () => {};
  private sweeper: NodeJS.Timeout | undefined;
  /**
   * Set when a 2025 session of this server could not serve as one: the server answers 2025-era
   * requests without sessions (each on its own, with no way to ask the client anything), or does
   * not speak 2025 at all. Its 2025 callers then go through the main connection, the hub
   * translating its 2026 answers. Holds while the main connection it was found on does (the
   * `since` of its state): a restarted server is asked again.
   */
  private noLegacySessions: number | undefined;

  constructor(private readonly opts: DownstreamServerOptions) {
    this.name = opts.name;
    this.prefix = opts.config.prefix;
    this.main = new DownstreamSource({ ...opts, role: 'main' });
    this.configHash = hashConfig(opts.config);
    this.main.onChange((change) => void this.mainChanged(change));
    this.listable = new Promise((resolve) => {
      this.markListable = resolve;
    });
  }

  async start(): Promise<void> {
    if (this.opts.config.disabled) return this.markListable();
    this.cached = await this.opts.listCache?.get(this.name, this.configHash).catch(() => undefined);
    this.served = this.cached;
    const gate = this.cached && isStdioServer(this.opts.config) ? this.opts.startGate : undefined;
    this.firstAttempt = gate ? gate.then(() => (this.stopped ? undefined : this.main.start())) : this.main.start();
    if (this.cached) this.markListable();
    else void Promise.race([this.firstAttempt, delay(this.opts.config.startupTimeoutMs)]).then(this.markListable);
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, this.idleMs()));
    this.sweeper.unref();
    await this.firstAttempt;
  }

  /**
   * Resolves when this server's tools can be listed: at once with a cached list, else when the
   * server answered or `startupTimeoutMs` passed (clients such as Claude Desktop list only once).
   */
  whenListable(): Promise<void> {
    return this.listable;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    const links = [...this.sessions.values()].map((s) => s.link);
    this.sessions.clear();
    await Promise.allSettled([this.main.stop(), ...links.map((l) => l.stop())]);
  }

  status(): SourceStatus {
    return this.main.status();
  }

  tools(identity: Identity): readonly Tool[] {
    return this.listing().tools ?? this.main.tools(identity);
  }
  resources(identity: Identity): readonly Resource[] {
    return this.listing().resources ?? this.main.resources(identity);
  }
  resourceTemplates(identity: Identity): readonly ResourceTemplate[] {
    return this.listing().resourceTemplates ?? this.main.resourceTemplates(identity);
  }
  prompts(identity: Identity): readonly Prompt[] {
    return this.listing().prompts ?? this.main.prompts(identity);
  }

  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResourceUpdated(listener: (uri: string) => void): () => void {
    return this.main.onResourceUpdated(listener);
  }

  async callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired | CreateTaskResult> {
    const link = await this.linkFor(ctx);
    if (typeof link === 'string') return toolError(link);
    return link.callTool(tool, args, ctx);
  }

  async readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired | undefined> {
    const link = await this.linkFor(ctx);
    return typeof link === 'string' ? undefined : link.readResource(uri, ctx);
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired> {
    const link = await this.linkFor(ctx);
    return (typeof link === 'string' ? this.main : link).getPrompt(name, args, ctx);
  }

  async complete(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult | undefined> {
    const link = await this.linkFor(ctx);
    return typeof link === 'string' ? undefined : link.complete(params, ctx);
  }

  subscribeResource(uri: string): Promise<boolean> {
    return this.main.subscribeResource(uri);
  }

  unsubscribeResource(uri: string): Promise<boolean> {
    return this.main.unsubscribeResource(uri);
  }

  /** The cached lists while the main connection has not listed yet. */
  private listing(): Partial<CachedLists> {
    return this.cached && this.main.status().state !== 'ready' ? this.cached : {};
  }

  private async mainChanged(change: SourceChange): Promise<void> {
    if (this.main.status().state === 'ready') {
      const fresh = this.main.lists();
      const served = this.served;
      this.cached = undefined;
      this.served = fresh;
      if (served && fingerprint(served)[change.kind] === fingerprint(fresh)[change.kind]) return; // clients already hold this list
      await this.opts.listCache?.put(this.name, this.configHash, fresh).catch((err: unknown) => {
        this.opts.log.warn({ source: this.name, err: describeError(err) }, 'could not cache the downstream lists');
      });
    }
    for (const l of this.listeners) l(change);
  }

  /**
   * Whether calls of different identities must not share a connection; `legacyCaller`: the caller
   * speaks 2025-11-25 or earlier.
   */
  private linkKind(legacyCaller: boolean): 'main' | 'session' | 'legacy-session' {
    const { config } = this.opts;
    if (isStdioServer(config)) return config.isolation === 'user' ? 'session' : 'main';
    const version = this.main.status().protocolVersion;
    if (version === undefined || version < '2026') return 'session';
    // A 2026-07-28 server has no sessions and no server→client requests: nothing to keep apart
    // between its modern callers. A 2025-era caller gets a 2025 session of its own instead, so
    // what the server does on that era (requests on the call's stream, SEP-1699 stream closes)
    // reaches it as sent, rather than translated from the 2026 era's answers.
    return legacyCaller && this.noLegacySessions !== this.main.status().since ? 'legacy-session' : 'main';
  }

  /** The connection that serves this identity's calls, or why there is none. */
  private async linkFor(ctx: CallContext): Promise<DownstreamSource | string> {
    const started = await this.awaitStart(ctx.signal);
    if (started !== undefined) return started;
    const kind = this.linkKind(isLegacyCaller(ctx));
    if (kind === 'main') return this.main;
    const key = `${kind}:${identityKey(ctx.identity)}`;
    let session = this.sessions.get(key);
    if (!session) {
      const link = new DownstreamSource({ ...this.opts, role: 'session', legacy: kind === 'legacy-session' });
      session = { link, started: link.start(), lastUsed: this.opts.clock.now() };
      this.sessions.set(key, session);
    }
    session.lastUsed = this.opts.clock.now();
    await session.started;
    if (kind === 'legacy-session' && !session.link.hasSession) {
      this.noLegacySessions = this.main.status().since;
      this.sessions.delete(key);
      void session.link.stop();
      return this.main;
    }
    return session.link;
  }

  /** A call to a server that is still starting waits for it, within the call's own timeout. */
  private async awaitStart(signal: AbortSignal): Promise<string | undefined> {
    if (this.main.status().state !== 'starting' || !this.firstAttempt) return undefined;
    const waited = await Promise.race([this.firstAttempt.then(() => true), delay(this.opts.config.timeoutMs).then(() => false), aborted(signal)]);
    return waited ? undefined : `${this.name} is still starting after ${this.opts.config.timeoutMs} ms`;
  }

  private idleMs(): number {
    return this.opts.sessionIdleMs ?? SESSION_IDLE_MS;
  }

  /** Closes identities' connections that have been idle for a while. */
  private sweep(): void {
    const now = this.opts.clock.now();
    for (const [key, s] of this.sessions) {
      if (s.link.busy === 0 && now - s.lastUsed >= this.idleMs()) {
        this.sessions.delete(key);
        void s.link.stop();
      }
    }
  }
}

/** Secrets in env or headers must not be stored: the key is a hash of the whole entry. */
function hashConfig(config: unknown): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 32);
}

/**
 * A 2025-era caller: its connection carries server→client requests (a 2025 session or stdio),
 * which a 2026-07-28 request never does.
 */
function isLegacyCaller(ctx: CallContext): boolean {
  return ctx.request !== undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function aborted(signal: AbortSignal): Promise<false> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(false);
    else signal.addEventListener('abort', () => resolve(false), { once: true });
  });
}

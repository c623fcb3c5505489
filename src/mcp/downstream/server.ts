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
import { setTimeout as sleep } from 'node:timers/promises';
import { isStdioServer } from '../../config/schema.js';
import { describeError } from '../../errors.js';
import { identityKey, type Identity } from '../../identity/identity.js';
import { listCacheKey } from '../../store/list-cache.js';
import {
  toolError,
  type CallContext,
  type ChangeKind,
  type InputRequired,
  type ResourceUpdatedListener,
  type StrayListener,
  type StrayNotification,
  type SourceChange,
  type SourceStatus,
  type ToolSource,
} from '../source.js';
import type { CreateTaskResult } from '../tasks/wire.js';
import { CallBudget } from './call-budget.js';
import { isLegacyCaller } from './legacy-caller.js';
import { IdentityLinks, type LinkKind } from './identity-links.js';
import { FreshReads } from './fresh-reads.js';
import { fingerprint, movedKinds } from './lists.js';
import { ServedLists } from './served-lists.js';
import type { DownstreamServerOptions } from './source-options.js';
import { DownstreamSource } from './source.js';
import { holdsOf } from './subscriptions.js';
import { configFor } from './identity-config.js';

const SESSION_IDLE_MS = 5 * 60_000;
/** Waits that never hold the process open. */
const delay = (ms: number) => sleep(ms, undefined, { ref: false });

/**
 * A call that finds the server restarting after a crash waits for a restart due within this
 * long (within the call's own timeout): the first restarts come a few hundred ms after a crash,
 * and failing the call then only made the client retry a moment later. A server in a crash loop,
 * whose restarts are further apart, fails its calls at once.
 */
const RESTART_WAIT_MS = 5_000;

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
  private readonly links: IdentityLinks;
  private readonly listeners = new Set<(c: SourceChange) => void>();
  private readonly resourceListeners = new Set<ResourceUpdatedListener>();
  private readonly strayListeners = new Set<StrayListener>();
  private readonly configHash: string;
  private readonly shown: ServedLists;
  private readonly fresh: FreshReads;
  private firstAttempt: Promise<void> | undefined;
  /** Set by stop(): a start still waiting at the gate does not happen. */
  private stopped = false;
  private readonly listable: Promise<void>;
  private markListable: () => void = () => {};
  private listableMarked = false;
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
    const lister = { ...opts, config: configFor(opts.config, opts.name, undefined, opts.serverDirs) };
    this.main = new DownstreamSource({ ...lister, role: 'main' });
    this.configHash = listCacheKey(opts.config);
    this.shown = new ServedLists(this.main, (change) => {
      for (const l of this.listeners) l(change);
    });
    this.fresh = new FreshReads({ open: () => new DownstreamSource({ ...lister, role: 'session' }), into: this.shown, name: this.name, log: opts.log });
    this.main.onChange((change) => void this.mainChanged(change));
    this.main.onResourceUpdated((uri) => this.updated(uri));
    const idleMs = opts.sessionIdleMs ?? SESSION_IDLE_MS;
    this.links = new IdentityLinks({ name: opts.name, clock: opts.clock, log: opts.log, idleMs, open: (kind, identity) => this.openLink(kind, identity) });
    this.listable = new Promise((resolve) => {
      this.markListable = () => {
        this.listableMarked = true;
        resolve();
      };
    });
  }

  async start(): Promise<void> {
    if (this.opts.config.disabled) return this.markListable();
    const cached = await this.opts.listCache?.get(this.name, this.configHash).catch(() => undefined);
    this.shown.setCached(cached);
    const gate = cached && isStdioServer(this.opts.config) ? this.opts.startGate : undefined;
    this.firstAttempt = gate ? gate.then(() => (this.stopped ? undefined : this.main.start())) : this.main.start();
    if (cached) this.markListable();
    else {
      const waitMs = this.opts.config.startupTimeoutMs;
      void Promise.race([this.firstAttempt.then(() => true), delay(waitMs).then(() => false)]).then((ready) => {
        // Said, since a client that lists once per session (Claude Desktop) will not see these tools until it lists again.
        if (!ready && !this.stopped)
          this.opts.log.warn(
            { source: this.name, startupTimeoutMs: waitMs },
            'not ready within startupTimeoutMs: the first lists go out without its tools, which follow with list_changed',
          );
        this.markListable();
      });
    }
    this.sweeper = setInterval(() => this.links.sweep(), Math.min(60_000, this.opts.sessionIdleMs ?? SESSION_IDLE_MS));
    this.sweeper.unref();
    void this.followMain();
    // Started once connected, failed, or past startupTimeoutMs: a server that hangs in its handshake
    // (until the connect timeout, 30 s) must not hold the hub in `starting` (/readyz 503) meanwhile;
    // it is shown not ready in `degraded` and goes on trying.
    await Promise.race([this.firstAttempt, delay(this.opts.config.startupTimeoutMs)]);
  }

  /**
   * Resolves when this server's tools can be listed: at once with a cached list, else when the
   * server answered or `startupTimeoutMs` passed (clients such as Claude Desktop list only once).
   */
  whenListable(): Promise<void> {
    return this.listable;
  }

  /**
   * While it is still starting: resolves once started, failed, or `startupTimeoutMs` passed. With
   * a cached list, for a tool that list lacks; with none, for any of its tools: past the first
   * list's wait its tools are not listed yet, and a client that knows their names (from an earlier
   * session) was answered "Unknown tool" at once while the server was a moment from answering.
   */
  whenStarted(): Promise<void> | undefined {
    if (this.main.status().state !== 'starting' || !this.firstAttempt) return undefined;
    return Promise.race([this.firstAttempt.catch(() => {}), delay(this.opts.config.startupTimeoutMs)]);
  }

  /** Resolves once the list refreshes this server announced have ended, on each connection; undefined when none runs. */
  whenCurrent(): Promise<void> | undefined {
    const links = [this.main, ...this.links.all()];
    const pending = links.map((l) => l.listsSettled()).filter((p) => p !== undefined);
    return pending.length === 0 ? undefined : Promise.all(pending).then(() => {});
  }

  /**
   * Another replica's session read a changed list (`readOnSession`): read here on a fresh session,
   * where this replica's own may be sessions the server never told. A stdio server is each replica's own.
   */
  reread(kind: ChangeKind): Promise<void> {
    if (this.stopped || this.opts.config.disabled || isStdioServer(this.opts.config)) return Promise.resolve();
    return this.fresh.request(kind);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([this.main.stop(), this.links.stop()]);
  }

  status(): SourceStatus {
    return this.main.status();
  }

  // An identity with a process of its own sees what that process lists (a tool it added at run time).
  tools(identity: Identity): readonly Tool[] {
    return this.ownLink(identity)?.tools(identity) ?? this.shown.now().tools;
  }
  resources(identity: Identity): readonly Resource[] {
    return this.ownLink(identity)?.resources(identity) ?? this.shown.now().resources;
  }
  resourceTemplates(identity: Identity): readonly ResourceTemplate[] {
    return this.ownLink(identity)?.resourceTemplates(identity) ?? this.shown.now().resourceTemplates;
  }
  prompts(identity: Identity): readonly Prompt[] {
    return this.ownLink(identity)?.prompts(identity) ?? this.shown.now().prompts;
  }

  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResourceUpdated(listener: ResourceUpdatedListener): () => void {
    this.resourceListeners.add(listener);
    return () => this.resourceListeners.delete(listener);
  }

  onStray(listener: StrayListener): () => void {
    this.strayListeners.add(listener);
    return () => this.strayListeners.delete(listener);
  }

  // Each sends its request in what the waits for the server left of the call's timeout (call-budget.ts).
  async callTool(tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired | CreateTaskResult> {
    const budget = new CallBudget(this.opts);
    const link = await this.linkFor(ctx, budget);
    if (typeof link === 'string') return toolError(link);
    return budget.run(ctx, { tool }, (c) => link.callTool(tool, args, c));
  }

  async readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | InputRequired | undefined> {
    const budget = new CallBudget(this.opts);
    const link = await this.linkFor(ctx, budget);
    if (typeof link === 'string') return undefined;
    return budget.run(ctx, { other: `resource ${uri}` }, (c) => link.readResource(uri, c));
  }

  async getPrompt(name: string, args: Record<string, string> | undefined, ctx: CallContext): Promise<GetPromptResult | InputRequired> {
    const budget = new CallBudget(this.opts);
    const link = await this.linkFor(ctx, budget);
    const to = typeof link === 'string' ? this.main : link;
    return budget.run(ctx, { other: `prompt ${name}` }, (c) => to.getPrompt(name, args, c));
  }

  async complete(params: CompleteRequestParams, ctx: CallContext): Promise<CompleteResult | undefined> {
    const budget = new CallBudget(this.opts);
    const link = await this.linkFor(ctx, budget);
    if (typeof link === 'string') return undefined;
    // A completion that failed has no suggestions (source.ts), one out of time neither.
    return budget.run(ctx, { other: 'completion' }, (c) => link.complete(params, c)).catch(() => undefined);
  }

  /**
   * A subscription goes where the identity's calls go, since what they change is kept there: its
   * own process (isolation "user"), or its own session with a 2025-era HTTP server, which may tell
   * a session only of what that session did (server-everything's simulated updates, a fastmcp
   * session's). Its updates from there go to that identity only. Elsewhere, the main connection.
   */
  async subscribeResource(uri: string, identity: Identity): Promise<boolean> {
    // A subscribe just after a first list answered from the cache finds the server still starting.
    await this.awaitStart(AbortSignal.timeout(this.opts.config.timeoutMs), new CallBudget(this.opts));
    // Where a 2026-era caller's calls go (a 2025 caller's own session with a 2026 server is for what
    // that era does on a call's stream; subscriptions there go through the main connection's listen).
    const link = this.linkKind(false) !== 'session' ? this.main : await this.links.use('session', identity);
    return holdsOf(link).take(uri, identityKey(identity));
  }

  /** Lets go of the identity's own hold only (subscriptions.ts): one that holds nothing ends nobody's subscription. */
  async unsubscribeResource(uri: string, identity: Identity): Promise<boolean> {
    const key = identityKey(identity);
    const session = this.links.get('session', identity);
    if (session && (await holdsOf(session).release(uri, key))) return true;
    return this.processPerIdentity() ? false : holdsOf(this.main).release(uri, key);
  }

  private processPerIdentity(): boolean {
    return isStdioServer(this.opts.config) && this.opts.config.isolation === 'user';
  }

  /** The identity's own process, once it has listed (until then the server's main lists stand). */
  private ownLink(identity: Identity): DownstreamSource | undefined {
    if (this.links.size === 0 || !this.processPerIdentity()) return undefined;
    const link = this.links.get('session', identity);
    return link?.status().state === 'ready' ? link : undefined;
  }

  private updated(uri: string, identities?: readonly Identity[]): void {
    for (const l of this.resourceListeners) l(uri, identities);
  }

  private async mainChanged(change: SourceChange): Promise<void> {
    if (this.main.status().state === 'ready') {
      // Told before the cache is written: a caller waiting for the refresh (whenCurrent) is
      // answered from the catalog as soon as the refresh ends, and must find it rebuilt.
      this.shown.mainRead(change, this.listableMarked);
      // The cache is what a fresh start lists (a warm start's first list): not a session's own additions.
      if (change.afterCall) return;
      await this.opts.listCache?.put(this.name, this.configHash, this.main.lists()).catch((err: unknown) => {
        this.opts.log.warn({ source: this.name, err: describeError(err) }, 'could not cache the downstream lists');
      });
      return;
    }
    for (const l of this.listeners) l(change);
  }

  /**
   * Follows the main connection's state: a new connection after a lost one is a server that
   * restarted (or may have), and the identities' sessions and their subscriptions went with it.
   */
  private async followMain(): Promise<void> {
    let restarts = this.main.status().restarts;
    while (!this.stopped) {
      await this.main.nextState();
      const { state, restarts: now } = this.main.status();
      if (state !== 'ready' || now === restarts) continue;
      restarts = now;
      this.shown.reconnected();
      if (!isStdioServer(this.opts.config)) void this.links.renewWatching();
    }
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
  private async linkFor(ctx: CallContext, budget: CallBudget): Promise<DownstreamSource | string> {
    const started = await this.awaitStart(ctx.signal, budget);
    if (started !== undefined) return started;
    const kind = this.linkKind(isLegacyCaller(ctx));
    if (kind === 'main') return this.main;
    const link = await this.links.use(kind, ctx.identity);
    if (kind === 'legacy-session' && !link.hasSession) {
      this.noLegacySessions = this.main.status().since;
      this.links.drop(kind, ctx.identity);
      return this.main;
    }
    await this.awaitRestart(link, ctx.signal, budget);
    return link;
  }

  /** A connection of the identity's own, wired to tell this server's listeners what comes on it, and its start. */
  private openLink(kind: LinkKind, identity: Identity): { link: DownstreamSource; started: Promise<void> } {
    // A restart this identity's session meets is the main connection's too: it is checked at once.
    const onSessionEnded = () => this.main.checkNow();
    // What the server says outside any call on this connection is this identity's to hear.
    const onStray = (n: StrayNotification) => {
      for (const l of this.strayListeners) l(n, [identity]);
    };
    const onUnreachable = (detail: string) => this.main.unreachable(detail);
    const own = { ...this.opts, config: configFor(this.opts.config, this.name, identity, this.opts.serverDirs) };
    const link = new DownstreamSource({ ...own, role: 'session', legacy: kind === 'legacy-session', onSessionEnded, onStray, onUnreachable });
    if (kind === 'session' && this.processPerIdentity()) this.followOwn(link, identity);
    else if (kind === 'session') {
      link.onResourceUpdated((uri) => this.updated(uri, [identity]));
      // Its lists as it connects are no news; what it reads after the server announced a change is.
      let up = false;
      link.onChange((change) => up && this.shown.sessionRead({ ...change, readOnSession: this.name }, link.lists()));
      return { link, started: link.start().finally(() => (up = true)) };
    }
    return { link, started: link.start() };
  }

  /**
   * An identity's own process tells that identity (only) of its resource updates, and of list
   * changes that differ from what the identity was shown (the server's main lists at first).
   */
  private followOwn(link: DownstreamSource, identity: Identity): void {
    let shown = fingerprint(this.main.lists());
    link.onResourceUpdated((uri) => this.updated(uri, [identity]));
    link.onChange((change) => {
      const now = fingerprint(link.lists());
      const moved = movedKinds(shown, now);
      shown = now;
      for (const kind of moved) for (const l of this.listeners) l({ ...change, kind, identities: [identity] });
    });
  }

  /** A call to a server that is still starting waits for it, within the call's own timeout. */
  private async awaitStart(signal: AbortSignal, budget: CallBudget): Promise<string | undefined> {
    if (this.main.status().state === 'restarting') await this.awaitRestart(this.main, signal, budget);
    if (this.main.status().state !== 'starting' || !this.firstAttempt) return undefined;
    return (await budget.waitFor(this.firstAttempt, signal)) ? undefined : `${this.name} is still starting after ${budget.totalMs} ms`;
  }

  /** A call just after a crash waits for a restart that is due soon (RESTART_WAIT_MS), within its own timeout; its outcome then decides. */
  private async awaitRestart(link: DownstreamSource, signal: AbortSignal, budget: CallBudget): Promise<void> {
    if (!link.restartWithin(Math.min(RESTART_WAIT_MS, budget.leftMs))) return;
    await budget.waitFor(link.nextState(), signal);
  }
}

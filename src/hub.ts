import { chmodSync } from 'node:fs';
import { makeDir } from './make-dir.js';
import { resolve } from 'node:path';
import { systemClock, type Clock } from './clock.js';
import { boundUrlWarnings, publicUrlOf, urlNotYetKnown } from './config/public-url.js';
import { notePortHolder } from './oauth/port-holder.js';
import type { HubConfig } from './config/schema.js';
import type { HttpListener } from './http/listener.js';
import type { HubPhase } from './http/routes.js';
import type { Identity } from './identity/identity.js';
import type { ApiTokens } from './identity/tokens.js';
import { Catalog } from './mcp/catalog.js';
import { Dispatcher } from './mcp/dispatch.js';
import { registerBackings } from './mcp/tasks/backings/register.js';
import { buildMcpTasks, downstreamServers } from './mcp/wire.js';
import { REQUEST_STATE_KEY, RequestStates } from './mcp/request-state.js';
import { createConformanceSource } from './mcp/fixtures/conformance.js';
import type { HttpFace } from './mcp/http-face.js';
import { serveStdioFace, type StdioFace } from './mcp/stdio-face.js';
import { ProcessRegistry } from './mcp/downstream/process-registry.js';
import { createLogger, type Logger } from './observability/logger.js';
import { HubMetrics } from './observability/metrics.js';
import type { Db } from './store/db.js';
import { openSqliteStore, sqliteOf, type HubStore, type SqliteHubStore } from './store/bundle.js';
import { storeChoice } from './store/choice.js';
import { describeError, HubError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { buildIntegrations, type Integrations } from './integrations/wiring.js';
import { HubRedis } from './replicas/hub-redis.js';
import { createRedisClient, type RedisHandle } from './store/redis/client.js';
import { watchConnections } from './integrations/watch.js';
import { hubVault } from './vault/open.js';
import type { Vault } from './vault/vault.js';
import { InboxService } from './webhooks/inbox/service.js';
import { OutboxService } from './outbox/service.js';
import { QueueSource } from './outbox/queue-source.js';
import type { PollScheduler } from './polling/scheduler.js';
import { buildPollers } from './polling/wire.js';
import type { AgentSource } from './agents/source.js';
import { buildAgents } from './agents/wire.js';
import type { HubOptions, Listening } from './hub-options.js';

/** The longest a stdio server with a cached list waits for the stdio face's first answer before it starts. */
const STDIO_GATE_MS = 250;

export type { HubOptions, Listening } from './hub-options.js';

/**
 * The composition root. Its parts are declared once, in start order (store → migrate → vault →
 * sources → workers → faces), and stop in reverse; see the list in the constructor.
 * Sources connect in the background so the faces answer at once; a source that arrives later
 * announces itself with list_changed.
 */
export class Hub {
  readonly config: HubConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: HubMetrics;
  /** Every repository, on one engine: the parts below are built on it. */
  readonly store: HubStore;
  readonly tokens: ApiTokens;
  readonly vault: Vault;
  readonly catalog: Catalog;
  readonly dispatcher: Dispatcher;
  readonly dataDir: string;
  private urlValue: string | undefined;
  private listener: HttpListener | undefined;
  readonly integrations: Integrations;
  /** Inbound events: the webhook route and pollers accept into it; its worker runs as the `inbox` part. */
  readonly inbox: InboxService;
  /** A poller per (connection, feed) of the integrations that declare `poll`: the `pollers` part. */
  readonly pollers: PollScheduler;
  /** Outbound writes (jobs, the worker, the feed tool calls wait on): the `outbox` part. */
  readonly outbox: OutboxService;
  /** The configured agents (`agent__<name>`), and their async tasks' callback route. */
  readonly agents: AgentSource;
  /** With `redis` in the config: the client of the state replicas share, and the events between them. */
  readonly redis: RedisHandle | undefined;
  private readonly replicas: HubRedis | undefined;
  private phaseValue: HubPhase = 'starting';
  private http?: { listener: HttpListener; face: HttpFace };
  /** Set before `listen()`: sends a 2026 retry whose state another replica holds there (src/replicas/forward.ts). */
  forward: ConstructorParameters<typeof HttpFace>[0]['forward'];
  private stdio?: StdioFace;
  /** Stdio servers with a cached list start once it opens (DownstreamServerOptions.startGate): see startSources. */
  private readonly startGate: Promise<void>;
  private openGate: () => void = () => {};
  private closeMounted: () => void = () => {};
  private stopWatching: () => void = () => {};
  private sourcesSettled: Promise<void> = Promise.resolve();
  private starting: Promise<void> | undefined;
  private readonly lifecycle: Lifecycle;
  /** The stdio servers this hub spawns, recorded in the data dir (none for an in-memory hub). */
  private readonly processes: ProcessRegistry | undefined;
  private readonly cimdCa: string | undefined;
  private readonly storePolls: HubOptions['storePolls'];

  /**
   * Builds a hub on the store its config names (`storeChoice`: `store.url`, DATABASE_URL, else
   * SQLite in the data dir). PostgreSQL connects and migrates before the hub is built, since its
   * repositories are built on an open pool; SQLite opens in the constructor as before.
   */
  static async open(opts: HubOptions): Promise<Hub> {
    if (opts.store !== undefined) return new Hub(opts);
    const choice = storeChoice(opts.config, opts.env ?? process.env);
    if (choice.kind === 'sqlite') return new Hub(opts);
    const clock = opts.clock ?? systemClock;
    const log = opts.log ?? createLogger({ level: opts.config.logLevel });
    const dataDir = opts.dataDir ?? resolve(opts.config.dataDir);
    // Each replica's own (master key file, process registry, hosted sandbox), private as SQLite's opener makes it (src/store/db.ts).
    if (dataDir !== ':memory:' && makeDir(dataDir, 0o700) !== undefined) chmodSync(dataDir, 0o700);
    // The master keys stay the data dir's (or SWITCHBOARD_MASTER_KEY): every replica must be given the same ones.
    const vault = hubVault({ dataDir, clock, log, ...(opts.env ? { env: opts.env } : {}) });
    // Loaded here only: the driver and the PostgreSQL repositories cost a SQLite hub's start-up nothing.
    const { openPostgresStore } = await import('./store/pg-bundle.js');
    const store = await openPostgresStore({ url: choice.url, clock, log, vault });
    log.info({ store: 'postgres', database: store.pg.safeUrl, from: choice.from }, 'store opened and migrated');
    try {
      return new Hub({ ...opts, clock, log, store });
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  constructor(opts: HubOptions) {
    if (opts.store === undefined && opts.config.store.url !== undefined)
      throw new HubError('internal', 'store.url names PostgreSQL, whose pool opens asynchronously: build this hub with Hub.open()');
    this.config = opts.config;
    this.cimdCa = opts.cimdCa;
    this.storePolls = opts.storePolls;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger({ level: opts.config.logLevel });
    this.metrics = new HubMetrics({ defaultMetrics: true });
    this.dataDir = opts.dataDir ?? resolve(opts.config.dataDir);
    // Connects in the background (ioredis); nothing waits on it before the `redis` part starts.
    this.redis = opts.config.redis ? createRedisClient(opts.config.redis, { log: this.log }) : undefined;
    const file = this.dataDir === ':memory:' ? ':memory:' : resolve(this.dataDir, 'switchboard.db');
    const vault = hubVault({ dataDir: this.dataDir, clock: this.clock, log: this.log, ...(opts.env ? { env: opts.env } : {}) });
    let opened: SqliteHubStore | undefined;
    this.lifecycle = new Lifecycle(
      [
        // The store and its migrations are opened by this constructor (every other part is built on them); the rest start in `start()`.
        // A store handed in was opened and migrated by its opener; the hub's own is migrated here.
        {
          name: 'store',
          start: () => {
            if (opts.store === undefined) opened = openSqliteStore({ file, clock: this.clock, log: this.log, vault, migrate: false });
          },
          stop: () => (opts.store ?? opened)?.close(),
        },
        { name: 'migrate', start: () => void opened?.migrate() },
        // Opened here: every data key unwrapped now (a wrong master key stops start-up), so no crypto waits on the store.
        { name: 'vault', start: async () => void (await this.vault.open()) },
        // Read once from the store; requests then read them from memory (links, request states, hosted clients).
        { name: 'keys', start: () => this.integrations.keys.load() },
        // Before the workers and faces that use them, stopped after them (the pacer's last adjustments land in the store or Redis).
        this.redis
          ? { name: 'redis', start: () => this.replicas?.start(), stop: () => this.replicas?.stop(this.integrations.pacer) }
          : { name: 'pacer', stop: () => this.integrations.pacer?.stop() },
        { name: 'processes', start: () => this.reapOrphans(), stop: async () => this.processes?.close() },
        // Stopped after every part that asks for tokens: a token set a refresh in flight gets is saved before the store closes.
        { name: 'connections', start: () => this.watchConnections(), stop: () => this.integrations.tokens.drain().finally(() => this.stopWatching()) },
        { name: 'sources', start: () => this.startSources(), stop: () => this.stopSources() },
        { name: 'inbox', start: () => this.inbox.start(), stop: () => this.inbox.stop() },
        { name: 'pollers', start: () => this.pollers.start(), stop: () => this.pollers.stop() },
        { name: 'outbox', start: () => this.outbox.start(), stop: () => this.outbox.stop() },
        ...(opts.workers ?? []),
        { name: 'faces', stop: () => this.closeFaces() },
      ],
      { onStopError: (part, err) => this.log.warn({ part, err: describeError(err) }, 'a part of the hub did not stop cleanly') },
    );
    this.lifecycle.openSync('migrate');
    const store = opts.store ?? opened!;
    this.store = store;
    this.vault = store.vault;
    this.tokens = store.apiTokens;
    this.inbox = new InboxService({ store, clock: this.clock, log: this.log, settings: opts.config.webhooks });
    this.outbox = new OutboxService({ outbox: store.outbox, clock: this.clock, log: this.log, settings: opts.config.outbox });
    this.catalog = new Catalog({ heldNames: store.heldNames });
    this.listener = opts.listener;
    this.integrations = buildIntegrations({
      config: opts.config,
      store,
      vault: this.vault,
      clock: this.clock,
      log: this.log,
      publicUrl: () => this.publicUrl,
      dataDir: this.dataDir,
      ...(opts.hosted ? { hosted: opts.hosted } : {}),
      ...(opts.tokenOptions ? { tokenOptions: opts.tokenOptions } : {}),
      ...(opts.provider ? { provider: opts.provider } : {}),
      events: { reads: store.eventReads, feed: this.inbox.feed },
      outbox: this.outbox,
      ...(opts.breakers ? { breakers: opts.breakers } : {}),
      metrics: this.metrics,
      ...(this.redis ? { redis: this.redis } : {}),
    });
    const { feed, connections, accounts } = this.integrations;
    const [jobs, inboxEvents] = [this.outbox.events, this.inbox.feed];
    this.replicas = this.redis && new HubRedis(this.redis, { log: this.log, clock: this.clock, feed, connections, accounts, jobs, inboxEvents });
    const { provider, polling: tuning } = opts;
    const pollerDeps = { config: opts.config, store, clock: this.clock, log: this.log, metrics: this.metrics, inbox: this.inbox.inbox };
    this.pollers = buildPollers({ ...pollerDeps, integrations: this.integrations, ...(provider ? { provider } : {}), ...(tuning ? { tuning } : {}) });
    // One signing key in the store: a 2026 client's retry may reach another process on this data dir.
    const { keys } = this.integrations;
    // MCP Tasks (SEP-2663): records in the store, so any process on this data dir answers tasks/get.
    const { tasks, downstream } = buildMcpTasks({ store, vault: this.vault, clock: this.clock, log: this.log });
    const states = new RequestStates({ key: () => keys.get(REQUEST_STATE_KEY) });
    this.dispatcher = new Dispatcher(this.catalog, this.metrics, this.log, states, tasks, opts.config.server.pollCallStreamsMs);
    for (const s of this.integrations.sources) this.catalog.add(s);
    const queuesWrites = this.integrations.sources.some((s) => s.queuesWrites);
    this.catalog.add(new QueueSource(this.outbox, this.clock, queuesWrites, this.integrations.circuits));
    const agents = buildAgents({
      config: opts.config,
      store,
      vault: this.vault,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      inbox: this.inbox,
      publicUrl: () => this.publicUrl,
      reach: this.integrations.links,
      ...(opts.provider ? { provider: opts.provider } : {}),
      ...(opts.agents ? { overrides: opts.agents } : {}),
      ...(this.replicas ? { sharedBreakers: this.replicas.agentBreakers(opts.agents?.breakers) } : {}),
    });
    this.agents = agents;
    if (agents.size > 0) this.catalog.add(agents);
    registerBackings(tasks, { outbox: this.outbox, integrations: this.integrations.sources, agents, circuits: this.integrations.circuits });
    this.processes = this.dataDir === ':memory:' ? undefined : new ProcessRegistry(this.dataDir, this.log);
    this.startGate = new Promise((resolve) => (this.openGate = resolve));
    const mcp = { config: opts.config, store, tasks: downstream, clock: this.clock, log: this.log, metrics: this.metrics, startGate: this.startGate };
    const timing = { restartBaseMs: opts.restartBaseMs, keepaliveMs: opts.keepaliveMs };
    for (const s of downstreamServers({ ...mcp, ...timing, processes: this.processes, dataDir: this.dataDir })) this.catalog.add(s);
    if (opts.config.fixtures.conformance) this.catalog.add(createConformanceSource());
    for (const s of opts.extraSources ?? []) this.catalog.add(s);
  }

  /** SQLite's connection, for tests and commands that read rows themselves; on another engine, a typed error. */
  get db(): Db {
    return sqliteOf(this.store).db;
  }

  get phase(): HubPhase {
    return this.phaseValue;
  }

  /**
   * Where clients and browsers reach this hub (links, OAuth redirects): `server.publicUrl`, else the bound listener's
   * address, else host:port. Fixed once read, so what was built on it stays valid; on port 0 it throws until bound.
   */
  get publicUrl(): string {
    this.urlValue ??= publicUrlOf(this.config.server, this.listener);
    if (this.urlValue === undefined) throw urlNotYetKnown();
    return this.urlValue;
  }

  /** The parts in start order (stop runs it in reverse). */
  parts(): string[] {
    return this.lifecycle.names();
  }

  /**
   * Starts the parts after the migrations (the vault first), in order; resolves once each has
   * started. Sources connect in the background: `ready()` tells when their first attempts settled.
   */
  start(): Promise<void> {
    this.starting ??= this.lifecycle.start();
    return this.starting;
  }

  /** Resolves when every source has connected or failed its first attempt. */
  async ready(): Promise<void> {
    await this.starting;
    await this.sourcesSettled;
  }

  private reapOrphans(): void {
    // Downstream processes a hub on this data dir left running when killed (kill -9): SIGTERM goes out now, before this hub spawns its own.
    void this.processes?.reapOrphans().catch((err: unknown) => this.log.warn({ err: String(err) }, 'could not end processes left by a previous run'));
  }

  /** Loads each identity's connection states for listing, then follows changes other processes make. */
  private async watchConnections(): Promise<void> {
    if (this.integrations.sources.length === 0) return;
    await this.integrations.states.load();
    this.stopWatching = watchConnections(this.integrations.connections, this.integrations.accounts, this.storePolls?.connectionsMs);
  }

  private startSources(): void {
    // The gate opens when the stdio face has answered its first tools/list, or STDIO_GATE_MS from now (at once without one).
    if (this.stdio) setTimeout(this.openGate, STDIO_GATE_MS).unref();
    else this.openGate();
    this.sourcesSettled = Promise.allSettled(this.catalog.sources().map((s) => s.start())).then(() => {
      if (this.phaseValue === 'starting') this.phaseValue = 'running';
    });
  }

  private async stopSources(): Promise<void> {
    await Promise.allSettled(this.catalog.sources().map((s) => s.stop()));
  }

  /**
   * Serves HTTP on the listener handed in, or binds one on `port` and `host` (the config's by
   * default; 0 lets the OS pick). The returned URL is built on the bound address.
   */
  async listen(port = this.config.server.port, host = this.config.server.host): Promise<Listening> {
    // Loaded on demand: the stdio face starts faster without the HTTP stack (express and friends).
    const [{ bindHttp }, { composeHubHttp }] = await Promise.all([import('./http/listener.js'), import('./hub-http.js')]);
    const listener =
      this.listener ??
      (await bindHttp(this.config.server, { port, host }).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE' && this.dataDir !== ':memory:' && this.takesInbound)
          await notePortHolder(this.integrations.links, this.publicUrl, this.dataDir, this.log);
        throw err;
      }));
    this.listener = listener;
    const bound = publicUrlOf(this.config.server, listener)!;
    this.urlValue ??= bound;
    for (const [fields, message] of boundUrlWarnings(this.config.server, listener, this.urlValue, this.takesInbound)) this.log.warn(fields, message);
    const { face, app, closeMounted } = await composeHubHttp({
      config: this.config,
      listener,
      publicUrl: bound,
      store: this.store,
      vault: this.vault,
      tokens: this.tokens,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      catalog: this.catalog,
      dispatcher: this.dispatcher,
      integrations: this.integrations,
      pollers: this.pollers,
      inbox: this.inbox,
      agents: this.agents,
      dataDir: this.dataDir,
      phase: () => this.phaseValue,
      cimdCa: this.cimdCa,
      redis: this.redis,
      replicaEvents: this.replicas?.events,
      forward: this.forward,
      revocationPollMs: this.storePolls?.revocationsMs,
    });
    this.closeMounted = closeMounted;
    listener.serve(app);
    this.http = { listener, face };
    return { url: `${bound}/mcp`, port: listener.port, host: listener.host };
  }

  /** Whether something comes back to this hub's URL: account links (their OAuth callbacks), async agents' callbacks. */
  get takesInbound(): boolean {
    return this.integrations.accounts.list().length > 0 || this.agents.runsAsync;
  }

  /** Links (and async agents' callbacks) made from now on point at `url`: where the hub serving this store answers (a `stdio --no-http` beside a `serve`). */
  pointLinksAt(url: string): void {
    this.urlValue = url;
  }

  serveStdio(identity: Identity, io: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream } = {}): StdioFace {
    this.stdio = serveStdioFace({
      dispatcher: this.dispatcher,
      catalog: this.catalog,
      identity,
      log: this.log,
      maxMessageBytes: this.config.maxMessageBytes,
      ...(io.input ? { input: io.input as import('node:stream').Readable } : {}),
      ...(io.output ? { output: io.output as import('node:stream').Writable } : {}),
    });
    void this.stdio.listed.then(this.openGate);
    return this.stdio;
  }

  /** Stops every started part, faces first and the store last. */
  async stop(): Promise<void> {
    this.phaseValue = 'stopping';
    const redisStopsWithItsPart = this.lifecycle.running().includes('redis');
    await this.lifecycle.stop();
    // What the constructor made is this hub's to close even when start-up failed before the part that closes it
    // started (a wrong master key stops at `vault`): the Redis client's socket kept a `stdio` hub alive after it
    // printed the error, and the listener handed in, answering 503 hub_starting, kept `serve` alive for good.
    if (!redisStopsWithItsPart) await this.redis?.close();
    await this.listener?.close();
  }

  private async closeFaces(): Promise<void> {
    // Write calls still waiting answer with their job's handle, the job left queued: not the closing connection's cancel.
    await this.outbox.beginStop();
    this.dispatcher.tasks?.beginStop();
    await this.http?.face.close();
    // No request can reach a task now: the work this process runs as tasks stops with the faces.
    await this.dispatcher.tasks?.close();
    // A listener handed in is this hub's to close, whether or not it came to serve on it.
    await this.listener?.close();
    await this.stdio?.close().catch(() => {});
    this.closeMounted();
  }
}

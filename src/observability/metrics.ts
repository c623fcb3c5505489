import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorOutcome, HubErrorCode } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { within } from '../within.js';

/** How long a scrape waits for the values read before it (the breakers' shared state); as /readyz waits for them. */
const REFRESH_WAIT_MS = 500;

/** `ok`, a result the tool itself marked isError, or the outcome the error table gives the failure. */
export type ToolOutcome = 'ok' | 'tool_error' | ErrorOutcome;

type PromClient = typeof import('prom-client');
// prom-client is required on first use: a stdio hub answers its first tools/list before any metric moves.
const prom = lazyRequire<PromClient>('prom-client');

interface Instruments {
  registry: Registry;
  toolCalls: Counter<'source' | 'tool' | 'outcome'>;
  toolLatency: Histogram<'source' | 'outcome'>;
  toolErrors: Counter<'source' | 'code'>;
  sourceUp: Gauge<'source'>;
  sourceRestarts: Counter<'source'>;
  mcpSessions: Gauge<'era'>;
  pollers: Gauge<'integration' | 'feed' | 'state'>;
  polls: Counter<'integration' | 'feed' | 'outcome'>;
  polledEvents: Counter<'integration' | 'feed'>;
  breakers: Gauge<'integration'>;
}

/** The hub's metrics, on a registry of its own so several hubs in one test process do not collide. */
export class HubMetrics {
  private made: Instruments | undefined;
  private readonly refreshers: Array<() => void | Promise<void>> = [];
  /**
   * Gauge values set before the instruments exist, by key: applied when they are made (the first
   * scrape or the first metric that counts something). The pollers and breakers set theirs as
   * the hub starts, and making the instruments then loaded prom-client (about 50 ms here) before
   * a stdio hub's first tools/list answer.
   */
  private readonly early = new Map<string, (m: Instruments) => void>();

  constructor(private readonly opts: { defaultMetrics?: boolean } = {}) {}

  private get m(): Instruments {
    if (this.made === undefined) {
      const made = this.create();
      this.made = made;
      for (const set of this.early.values()) set(made);
      this.early.clear();
    }
    return this.made;
  }

  /** Sets a gauge now if the instruments exist, else when they are made (the latest value per key wins). */
  private setGauge(key: string, set: (m: Instruments) => void): void {
    if (this.made) set(this.made);
    else this.early.set(key, set);
  }

  private create(): Instruments {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = prom();
    const registry = new Registry();
    const registers = [registry];
    // The event-loop lag histogram samples every 100 ms rather than prom-client's 10: each sample
    // wakes an idle hub, and 100 wake-ups a second were 2 % of a core on a small VM.
    if (this.opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'switchboard_', eventLoopMonitoringPrecision: 100 });
    return {
      registry,
      toolCalls: new Counter({
        name: 'switchboard_tool_calls_total',
        help: 'Tool calls by source, tool and outcome',
        labelNames: ['source', 'tool', 'outcome'],
        registers,
      }),
      toolLatency: new Histogram({
        name: 'switchboard_tool_call_duration_seconds',
        help: 'Tool call latency in seconds, by source and outcome',
        labelNames: ['source', 'outcome'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
      toolErrors: new Counter({
        name: 'switchboard_tool_errors_total',
        help: 'Failed tool calls by source and hub error code',
        labelNames: ['source', 'code'],
        registers,
      }),
      sourceUp: new Gauge({ name: 'switchboard_source_up', help: '1 when a tool source is ready, 0 otherwise', labelNames: ['source'], registers }),
      sourceRestarts: new Counter({
        name: 'switchboard_source_restarts_total',
        help: 'Restarts of supervised downstream servers',
        labelNames: ['source'],
        registers,
      }),
      mcpSessions: new Gauge({ name: 'switchboard_mcp_sessions', help: 'Open MCP sessions by protocol era', labelNames: ['era'], registers }),
      pollers: new Gauge({
        name: 'switchboard_pollers',
        help: 'Pollers this process runs, by integration, feed and state (active or stalled)',
        labelNames: ['integration', 'feed', 'state'],
        registers,
      }),
      polls: new Counter({
        name: 'switchboard_polls_total',
        help: 'Poll runs by integration, feed and outcome (activity, empty, failed, more)',
        labelNames: ['integration', 'feed', 'outcome'],
        registers,
      }),
      polledEvents: new Counter({
        name: 'switchboard_polled_events_total',
        help: 'New events stored by pollers (duplicates of webhooks not counted)',
        labelNames: ['integration', 'feed'],
        registers,
      }),
      breakers: new Gauge({
        name: 'switchboard_breaker_state',
        help: 'Circuit breaker per integration: 0 closed, 1 half-open, 2 open',
        labelNames: ['integration'],
        registers,
      }),
    };
  }

  get toolCalls() {
    return this.m.toolCalls;
  }
  get toolLatency() {
    return this.m.toolLatency;
  }
  get sourceRestarts() {
    return this.m.sourceRestarts;
  }
  /** The registry, for instruments defined beside their domain (src/agents/metrics.ts). */
  get registry(): Registry {
    return this.m.registry;
  }

  observeCall(source: string, tool: string, outcome: ToolOutcome, seconds: number): void {
    this.m.toolCalls.inc({ source, tool, outcome });
    this.m.toolLatency.observe({ source, outcome }, seconds);
  }

  /** A tool call failed with a hub error: its code, beside the coarser outcome of observeCall. */
  observeError(source: string, code: HubErrorCode): void {
    this.m.toolErrors.inc({ source, code });
  }

  /** A poll run ended; `stored` new events it brought in. */
  observePoll(integration: string, feed: string, outcome: string, stored: number): void {
    this.m.polls.inc({ integration, feed, outcome });
    if (stored > 0) this.m.polledEvents.inc({ integration, feed }, stored);
  }

  /** How many pollers of a feed are in each state (every state set, so a recovered one reads 0). */
  setPollers(integration: string, feed: string, counts: Readonly<Record<'active' | 'stalled', number>>): void {
    for (const [state, n] of Object.entries(counts)) {
      this.setGauge(`pollers\u0000${integration}\u0000${feed}\u0000${state}`, (m) => m.pollers.set({ integration, feed, state }, n));
    }
  }

  /** Whether a downstream server is ready (1) or not (0): set as servers start, so applied once the instruments exist. */
  setSourceUp(source: string, up: boolean): void {
    this.setGauge(`sourceUp\u0000${source}`, (m) => m.sourceUp.set({ source }, up ? 1 : 0));
  }

  /** Open MCP sessions of an era. */
  setSessions(era: string, open: number): void {
    this.setGauge(`sessions\u0000${era}`, (m) => m.mcpSessions.set({ era }, open));
  }

  /** Each integration's breaker, as the gauge value of its state (see BREAKER_GAUGE in src/outbox/breaker.ts). */
  setBreakers(states: ReadonlyArray<{ integration: string; value: number }>): void {
    for (const { integration, value } of states) this.setGauge(`breakers\u0000${integration}`, (m) => m.breakers.set({ integration }, value));
  }

  /** Runs before each scrape: for values that change with time alone (a breaker's cool-down ending). */
  beforeScrape(refresh: () => void | Promise<void>): void {
    this.refreshers.push(refresh);
  }

  async text(): Promise<string> {
    // A refresher that reads shared state (breakers on Redis) is waited for, within a bound: with
    // Redis away each read waits on the client's reconnects, and scrapes took 8 s, past many a
    // Prometheus scrape_timeout, so every metric went missing while Redis was. Past the bound the
    // last values stay (/readyz says why), as when the read fails.
    await Promise.all(this.refreshers.map((r) => within(Promise.resolve().then(r), REFRESH_WAIT_MS, undefined)));
    return this.m.registry.metrics();
  }

  get contentType(): string {
    return this.m.registry.contentType;
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ToolOutcome = 'ok' | 'tool_error' | 'error' | 'timeout' | 'cancelled' | 'unavailable';

/** The hub's metrics, on a registry of its own so several hubs in one test process do not collide. */
export class HubMetrics {
  readonly registry = new Registry();
  readonly toolCalls: Counter<'source' | 'tool' | 'outcome'>;
  readonly toolLatency: Histogram<'source' | 'outcome'>;
  readonly sourceUp: Gauge<'source'>;
  readonly sourceRestarts: Counter<'source'>;
  readonly mcpSessions: Gauge<'era'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.toolCalls = new Counter({
      name: 'switchboard_tool_calls_total',
      help: 'Tool calls by source, tool and outcome',
      labelNames: ['source', 'tool', 'outcome'],
      registers: [this.registry],
    });
    this.toolLatency = new Histogram({
      name: 'switchboard_tool_call_duration_seconds',
      help: 'Tool call latency in seconds, by source and outcome',
      labelNames: ['source', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.sourceUp = new Gauge({
      name: 'switchboard_source_up',
      help: '1 when a tool source is ready, 0 otherwise',
      labelNames: ['source'],
      registers: [this.registry],
    });
    this.sourceRestarts = new Counter({
      name: 'switchboard_source_restarts_total',
      help: 'Restarts of supervised downstream servers',
      labelNames: ['source'],
      registers: [this.registry],
    });
    this.mcpSessions = new Gauge({
      name: 'switchboard_mcp_sessions',
      help: 'Open MCP sessions by protocol era',
      labelNames: ['era'],
      registers: [this.registry],
    });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }

  observeCall(source: string, tool: string, outcome: ToolOutcome, seconds: number): void {
    this.toolCalls.inc({ source, tool, outcome });
    this.toolLatency.observe({ source, outcome }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import type { Integrations } from '../integrations/wiring.js';
import type { Logger } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import { createProviderClient, type ProviderClientOptions } from '../providers/client.js';
import type { PolledIntake } from '../webhooks/inbox/types.js';
import { PollScheduler, type PolledIntegration, type PollSchedulerOptions } from './scheduler.js';
import type { PollerStore } from './store.js';

/** The repository the pollers use (a part of the hub's store); their cursors move through the inbox. */
export interface PollersStore {
  readonly pollers: PollerStore;
}

export interface PollersDeps {
  config: HubConfig;
  store: PollersStore;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  integrations: Integrations;
  inbox: PolledIntake;
  /** The provider client's fetch, clock, sleep, pacer and default limits, as the tools get them. */
  provider?: ProviderClientOptions;
  /** Scheduler tuning (tests inject a timer, a random and a short tick). */
  tuning?: Partial<Pick<PollSchedulerOptions, 'timer' | 'tickMs' | 'leaseMs' | 'random' | 'maxPages' | 'concurrency' | 'owner'>>;
}

/**
 * The hub's `pollers` part: every linkable integration (built-in or custom) whose definition
 * declares `poll`. An API called with one key from config has no connection to route events to,
 * so it is not polled.
 */
export function buildPollers(d: PollersDeps): PollScheduler {
  const integrations: PolledIntegration[] = d.integrations.sources.flatMap(({ definition: def }) => {
    if (!def.poll || !def.oauth) return [];
    const api = d.config.integrations[def.name]?.api;
    const limits = api && Object.fromEntries(Object.entries(api).filter(([, v]) => v !== undefined));
    const refusal = def.refusal ? { refusal: def.refusal } : {};
    return [{ name: def.name, title: def.title, apiBaseUrl: def.apiBaseUrl, poll: def.poll, ...refusal, ...(limits ? { limits } : {}) }];
  });
  return new PollScheduler({
    integrations,
    connections: d.integrations.connections,
    feed: d.integrations.feed,
    store: d.store.pollers,
    inbox: d.inbox,
    // The tools' pacer: a poll's pages and the tools' calls of a connection spend one budget.
    provider: createProviderClient({ clock: d.clock, ...(d.integrations.pacer ? { pacer: d.integrations.pacer } : {}), ...d.provider }),
    tokens: d.integrations.tokens,
    apiBase: d.integrations.apiBase,
    clock: d.clock,
    log: d.log,
    metrics: d.metrics,
    ...d.tuning,
  });
}

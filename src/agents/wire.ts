import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import { createProviderClient, type ProviderClientOptions } from '../providers/client.js';
import { createNodeFetch } from '../providers/node-fetch.js';
import type { SecretStore } from '../store/hub-secrets.js';
import type { Vault } from '../vault/vault.js';
import type { InboxService } from '../webhooks/inbox/service.js';
import { AgentSource, type AgentSourceOptions } from './source.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import type { AgentTaskStore } from './tasks/types.js';
import type { CallbackReach } from './callback-reach.js';

/** What tests may shorten or replace: the breakers, the waits between attempts, the Retry-After cap, task timings. */
export type AgentOverrides = Pick<AgentSourceOptions, 'breakers' | 'sleep' | 'backoffMs' | 'maxRetryAfterMs'> & {
  tasks?: { pollMs?: number; taskTtlMs?: number; retentionMs?: number };
};

/** The repositories the agents use (a part of the hub's store). */
export interface AgentsStore {
  /** The agents' session key lives here. */
  readonly secrets: SecretStore;
  readonly agentTasks: AgentTaskStore;
}

export interface AgentsDeps {
  config: HubConfig;
  store: AgentsStore;
  /** Callback secrets are sealed with it. */
  vault: Vault;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  inbox: InboxService;
  publicUrl: () => string;
  provider?: ProviderClientOptions;
  overrides?: AgentOverrides;
  /** Per-agent circuits the replicas share (on Redis); without them each process keeps its own. */
  sharedBreakers?: Breakers;
  /** What holds the public URL's port, as the links know it: an async call is refused when its callback could not come back. */
  reach?: CallbackReach;
}

/**
 * The configured agents as one source of `agent__<name>` tools. Their HTTP goes through a provider
 * client of their own (no pacer), over node:http with keep-alive (providers/node-fetch.ts: the global fetch cost
 * ~1 ms of the hub's CPU per agent call); async tasks are stored, and their callbacks come through
 * the inbox, whose worker finishes them.
 */
export function buildAgents(d: AgentsDeps): AgentSource {
  return new AgentSource({
    agents: d.config.agents,
    provider: createProviderClient({ clock: d.clock, fetch: createNodeFetch({ redirects: 'manual' }), ...d.provider }),
    publicUrl: d.publicUrl,
    secrets: d.store.secrets,
    clock: d.clock,
    log: d.log,
    since: d.clock.now(),
    metrics: d.metrics,
    ...d.overrides,
    ...(d.sharedBreakers ? { shared: d.sharedBreakers } : {}),
    ...(d.reach ? { reach: d.reach } : {}),
    tasks: {
      store: d.store.agentTasks,
      intake: d.inbox.inbox,
      handlers: d.inbox.handlers,
      vault: d.vault,
      // Finished tasks are kept as long as the inbox keeps the callbacks that ended them.
      retentionMs: d.config.webhooks.retentionDays * 86_400_000,
      ...d.overrides?.tasks,
    },
  });
}

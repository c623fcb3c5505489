import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import { ConnectionFeed } from '../connections/feed.js';
import type { ConnectionRepository } from '../connections/repository.js';
import { ConnectionStates } from '../connections/states.js';
import { HubError } from '../errors.js';
import type { FlowRepository } from '../oauth/flow-store.js';
import { OAuthFlows } from '../oauth/flows.js';
import type { ConnectSessions, LinkUses } from '../oauth/link-uses.js';
import { LINK_SIGNING_KEY, LinkSigner } from '../oauth/links.js';
import { TokenManager } from '../oauth/token-manager.js';
import { createProviderClient, type ProviderClientOptions, type ProviderLimits } from '../providers/client.js';
import type { Logger } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import type { WebhooksConfig } from '../definition/webhooks.js';
import { HubKeys, type SecretStore } from '../store/hub-secrets.js';
import type { Vault } from '../vault/vault.js';
import { Accounts } from './accounts.js';
import { linkLearner } from './account-id.js';
import { ConnectionBases } from './connection-base.js';
import { hostedSecretName, hostedWebhookSecret, hostedWebhookSecretName, type HostedProvider } from './hosted.js';
import { resolveIntegrations, resolveKeyedIntegrations, type ResolvedIntegration } from './registry.js';
import { REQUEST_STATE_KEY } from '../mcp/request-state.js';
import { EVENT_CURSOR_KEY, EventCursors } from './event-cursor.js';
import type { IntegrationEvents } from './events.js';
import { OUTBOX_ORDERING_KEY } from './outbound.js';
import { IntegrationSource } from './source.js';
import { BREAKER_GAUGE, CircuitBreakers, type BreakerOptions, type BreakerSnapshot } from '../outbox/breaker.js';
import { createBucketPacer } from '../outbox/pacing/index.js';
import { RedisBreakers } from '../outbox/redis/breakers.js';
import { RedisPacer } from '../outbox/redis/pacer.js';
import type { SharedBuckets } from '../outbox/pacing/shared.js';
import { withSharedBuckets } from '../outbox/shared-gate.js';
import { type Breakers, localBreakers, localPacer, type PacerWithState } from '../outbox/redis/shapes.js';
import type { RedisHandle } from '../store/redis/client.js';
import type { OutboxService } from '../outbox/service.js';
import type { RateLimitConfig } from '../definition/rate-limit.js';

/** The repositories linking, refresh and the integration tools use (a part of the hub's store). */
export interface IntegrationsStore {
  readonly secrets: SecretStore;
  readonly connections: ConnectionRepository;
  readonly flows: FlowRepository;
  /** Once-only links and /connect sessions: one table, both faces. */
  readonly linkUses: LinkUses & ConnectSessions;
  /** Rate-limit buckets every process on the store shares (a SQLite file); absent: each process paces alone. */
  readonly paceBuckets?: SharedBuckets;
}

export interface IntegrationsDeps {
  config: HubConfig;
  store: IntegrationsStore;
  /** Flows seal their PKCE verifiers with it. */
  vault: Vault;
  clock: Clock;
  log: Logger;
  /**
   * Where the hub is reached, without a trailing slash. Read when a URL is built, not here: a hub
   * on port 0 knows it only once its listener is bound (it throws before then).
   */
  publicUrl: () => string;
  /** Where hosted providers keep their state; ':memory:' keeps it in memory. */
  dataDir: string;
  /** Providers the hub serves itself, handed in by the process that starts it. */
  hosted?: readonly HostedProvider[];
  /** Token manager tuning (tests shorten leases and polls). */
  tokenOptions?: { marginMs?: number; leaseMs?: number; pollMs?: number; attempts?: number };
  /** The provider client's fetch, clock, sleep, pacer and default limits (tests inject fakes). */
  provider?: ProviderClientOptions;
  /** The inbox's events, shown to MCP clients by integrations that declare webhooks or polling. */
  events?: IntegrationEvents;
  /** With it, integrations' write tools are queued there and its worker sends them through these sources. */
  outbox?: OutboxService;
  /** The breakers' threshold and cool-down (tests shorten it). */
  breakers?: BreakerOptions;
  /** Where the breakers' states are shown (`switchboard_breaker_state`). */
  metrics?: HubMetrics;
  /** With it, the rate-limit buckets and the circuits are shared by every replica on this Redis (issue 13). */
  redis?: RedisHandle;
}

/** How long a write waits when its circuit cannot be read (Redis down) before it is asked again. */
const CIRCUIT_UNKNOWN_WAIT_MS = 5_000;

export interface Integrations {
  /** This process's circuits: the ones in use without Redis (with it, `circuits` are Redis's and these stay closed). */
  breakers: CircuitBreakers;
  /** One circuit per integration, fed by the outbox's sends: `breakers` lifted, or shared on Redis. */
  circuits: Breakers;
  /** The provider client's pacer, when an integration declares limits: its buckets' state, and its stop at shutdown. */
  pacer: PacerWithState | undefined;
  accounts: Accounts;
  connections: ConnectionRepository;
  /** Every connection change this process makes or notices. */
  feed: ConnectionFeed;
  /** Each identity's connection states, for listing tools without SQL. */
  states: ConnectionStates;
  secrets: SecretStore;
  /**
   * The keys requests read (link signing, request-state signing, event cursors, hosted clients' secrets): loaded
   * from `secrets` once by `keys.load()` (the hub's 'keys' part, or `openIntegrations`), then read from memory.
   */
  keys: HubKeys;
  tokens: TokenManager;
  links: LinkSigner;
  /** Once-only links and /connect sessions (the HTTP routes use them; they know no SQL). */
  linkUses: LinkUses;
  sessions: ConnectSessions;
  sources: IntegrationSource[];
  /**
   * A linked connection's API base: apiBaseUrl filled with its link's values (read now, so a relink
   * moves it). Rejects with connection_needs_reauth, having marked it so, when it has none.
   */
  apiBase: (integration: string, connectionId: string) => Promise<string>;
  /** The integrations that take webhooks, with how they are verified (the webhook route reads these). */
  webhooks: WebhookIntegration[];
  /** The providers the hub hosts itself whose integration is enabled, with the hub's client there. */
  hosted: Array<{ provider: HostedProvider; resolved: ResolvedIntegration }>;
  /** The hub's URL as `IntegrationsDeps.publicUrl` gives it, read on each access (when mounted). */
  readonly publicUrl: string;
  dataDir: string;
  clock: Clock;
  log: Logger;
}

/** An integration whose webhooks the hub verifies: its format and secrets (a hosted one's read on use). */
export interface WebhookIntegration {
  name: string;
  webhooks: WebhooksConfig;
}

/**
 * Builds linking, refresh and the integration tool sources from the config. Nothing here reads the
 * store: the keys are read by `keys.load()`, which must resolve before the first request.
 */
export function buildIntegrations(d: IntegrationsDeps): Integrations {
  const { secrets, connections } = d.store;
  const feed = new ConnectionFeed();
  const states = new ConnectionStates(connections, feed);
  const hostedByName = new Map((d.hosted ?? []).map((p) => [p.integration, p]));
  const hostedNames = [...hostedByName.keys()];
  const keys = new HubKeys(secrets, [
    LINK_SIGNING_KEY,
    REQUEST_STATE_KEY,
    OUTBOX_ORDERING_KEY,
    EVENT_CURSOR_KEY,
    ...hostedNames.map(hostedSecretName),
    ...hostedNames.map(hostedWebhookSecretName),
  ]);
  const resolved = resolveIntegrations(d.config, {
    // Read only by a built-in definition that needs it (a provider the hub hosts): at this point.
    get publicUrl() {
      return d.publicUrl();
    },
    clock: d.clock,
    hostedClient: (name) => {
      const p = hostedByName.get(name);
      return (
        p && {
          id: p.clientId,
          secret: () => keys.get(hostedSecretName(name)).toString('base64url'),
          webhookSecret: () => hostedWebhookSecret(keys.get(hostedWebhookSecretName(name))),
        }
      );
    },
  });
  const byName = new Map(resolved.map((r) => [r.definition.name, r]));
  const links = new LinkSigner(() => keys.get(LINK_SIGNING_KEY), d.clock);
  // The redirect URI is built on the hub's URL, so the flows are made on first use (a link opened, after listen).
  let flows: OAuthFlows | undefined;
  const flowsNow = () => (flows ??= new OAuthFlows(d.store.flows, d.vault, connections, d.clock, `${d.publicUrl()}/oauth/callback`));
  const sourceMap = new Map<string, IntegrationSource>();
  let accounts: Accounts | undefined;
  const tokens = new TokenManager({
    store: connections,
    clock: d.clock,
    log: d.log,
    clientFor: (name) => {
      const r = byName.get(name);
      if (!r) throw new Error(`integration ${name} is not configured`);
      return r.client;
    },
    onStateChange: (c) => void accounts?.changed(c),
    ...d.tokenOptions,
  });
  const keyedIntegrations = resolveKeyedIntegrations(d.config);
  // Reads and writes of a connection share its buckets: the one client of the hub is paced.
  const rateLimits = new Map<string, RateLimitConfig>();
  for (const def of [...resolved, ...keyedIntegrations].map((r) => r.definition)) if (def.rateLimit) rateLimits.set(def.name, def.rateLimit);
  const limits = (name: string) => rateLimits.get(name);
  const pacer: PacerWithState | undefined =
    rateLimits.size === 0
      ? undefined
      : d.redis
        ? new RedisPacer({ redis: d.redis, limits, clock: d.clock, log: d.log })
        : withSharedBuckets(localPacer(createBucketPacer({ limits, clock: d.clock })), d.store.paceBuckets, { limits, clock: d.clock, log: d.log });
  const provider = createProviderClient({ clock: d.clock, ...(pacer ? { pacer } : {}), ...d.provider });
  const breakers = new CircuitBreakers({ clock: d.clock, ...d.breakers });
  const circuits = d.redis ? new RedisBreakers({ redis: d.redis, clock: d.clock, ...d.breakers }) : localBreakers(breakers);
  // In one process the circuits are read synchronously, as before; Redis's need a round trip.
  const inUse = d.redis ? circuits : breakers;
  // Transitions this replica makes (another's are seen by admit and snapshot).
  circuits.onChange((b) => {
    if (b.state === 'open')
      d.log.warn(
        { integration: b.integration, failures: b.failures, retryAt: b.retryAt === undefined ? undefined : new Date(b.retryAt).toISOString() },
        "an integration's circuit opened: its queued writes wait until it retries",
      );
    else if (b.state === 'closed') d.log.info({ integration: b.integration }, "an integration's circuit closed: its queued writes are sent again");
  });
  if (d.metrics) {
    const metrics = d.metrics;
    // Set on every change of state, and read again at each scrape (an open circuit half-opens by time alone).
    const set = (all: readonly BreakerSnapshot[]) => metrics.setBreakers(all.map((b) => ({ integration: b.integration, value: BREAKER_GAUGE[b.state] })));
    // Redis's state is shared: read at each scrape, a failure keeping the last values (the log and /readyz say why).
    const show = d.redis
      ? () =>
          circuits
            .snapshot()
            .then(set, (err: unknown) => d.log.debug({ error: err instanceof Error ? err.message : String(err) }, 'breaker gauges not refreshed'))
      : () => set(breakers.snapshot());
    circuits.onChange(() => void show());
    metrics.beforeScrape(show);
  }
  const orderingSecret = () => keys.get(OUTBOX_ORDERING_KEY);
  // Cursors clients are given are sealed to their owner; the repositories' raw ones count every user's events.
  const events = d.events ? { events: { ...d.events, cursors: new EventCursors(() => keys.get(EVENT_CURSOR_KEY)) } } : {};
  const outbound = d.outbox ? { outbound: { service: d.outbox, breakers: inUse, clock: d.clock, orderingSecret } } : {};
  for (const r of resolved) {
    const learn = linkLearner(r.definition, provider, d.log);
    if (learn) r.flow.learn = learn;
  }
  accounts = new Accounts({
    integrations: resolved,
    connections,
    feed,
    // Getters: Accounts reads both when it builds a link or starts a flow, by then the URL is known.
    get flows() {
      return flowsNow();
    },
    links,
    get publicUrl() {
      return d.publicUrl();
    },
    log: d.log,
  });
  const acc = accounts;
  const bases = new Map<string, ConnectionBases>();
  for (const r of resolved)
    bases.set(
      r.definition.name,
      new ConnectionBases({
        definition: r.definition,
        connections,
        // Guarded (only an active connection moves), then told as a refused refresh is: the owner's clients and the pollers hear it.
        needsRelink: async (c, reason) => {
          if (await connections.markNeedsReauth(c.id, reason)) {
            d.log.warn({ integration: c.integration, connection: c.id, reason }, 'a connection needs to be linked again');
            await acc.changed(c);
          }
        },
      }),
    );
  for (const r of resolved) {
    sourceMap.set(
      r.definition.name,
      new IntegrationSource({
        definition: r.definition,
        connections,
        states,
        tokens,
        linkUrl: (who) => acc.linkUrl(who, r.definition.name),
        linkNotice: () => links.notice(),
        linksSettled: () => links.settled,
        log: d.log,
        since: d.clock.now(),
        provider,
        bases: bases.get(r.definition.name)!,
        ...apiLimitsOf(d.config, r.definition.name),
        ...events,
        ...outbound,
      }),
    );
  }
  const webhookIntegrations: WebhookIntegration[] = resolved.flatMap((r) => (r.webhooks ? [{ name: r.definition.name, webhooks: r.webhooks }] : []));
  // APIs called with one key from config (or none): the same tool source, with nothing to link.
  for (const k of keyedIntegrations) {
    if (k.webhooks) webhookIntegrations.push({ name: k.definition.name, webhooks: k.webhooks });
    sourceMap.set(
      k.definition.name,
      new IntegrationSource({
        definition: k.definition,
        connections,
        states,
        tokens,
        credentials: k.credentials,
        linkUrl: () => {
          throw new HubError('internal', `${k.definition.name} is called with a key from config; it has nothing to link`);
        },
        log: d.log,
        since: d.clock.now(),
        provider,
        ...apiLimitsOf(d.config, k.definition.name),
        ...events,
        ...outbound,
      }),
    );
  }
  // Shown as closed from the start, not only once a write was sent.
  for (const s of sourceMap.values()) if (s.queuesWrites) circuits.add(s.name);
  // Asked before the worker spends an attempt: an open circuit keeps the job queued until it retries.
  d.outbox?.worker.useReady(
    d.redis
      ? (job) =>
          circuits.admit(job.integration).then(
            (a) => (a.ok ? a : { ok: false, retryAt: a.retryAt }),
            (err: unknown) => {
              // Not sent, not an attempt: the job waits, as for an open circuit, and the error names Redis.
              d.log.warn({ integration: job.integration, error: err instanceof Error ? err.message : String(err) }, 'circuit unknown: queued write held');
              return { ok: false, retryAt: d.clock.now() + CIRCUIT_UNKNOWN_WAIT_MS };
            },
          )
      : (job) => {
          const a = breakers.admit(job.integration);
          return a.ok ? a : { ok: false, retryAt: a.retryAt };
        },
  );
  d.outbox?.useSender((job, signal, beforeSend) => {
    const source = sourceMap.get(job.integration);
    if (source === undefined) throw new HubError('tool_not_found', `integration ${job.integration} is no longer configured`);
    return source.sendJob(job, signal, beforeSend);
  });
  const uses = d.store.linkUses;
  return {
    breakers,
    circuits,
    pacer,
    accounts: acc,
    linkUses: uses,
    sessions: uses,
    connections,
    feed,
    states,
    secrets,
    keys,
    tokens,
    links,
    sources: [...sourceMap.values()],
    apiBase: (integration, connectionId) => {
      const b = bases.get(integration);
      if (b === undefined) throw new HubError('tool_not_found', `integration ${integration} links no accounts`);
      return b.ofId(connectionId);
    },
    webhooks: webhookIntegrations,
    hosted: [...hostedByName.values()].flatMap((provider) => {
      const r = byName.get(provider.integration);
      return r ? [{ provider, resolved: r }] : [];
    }),
    get publicUrl() {
      return d.publicUrl();
    },
    dataDir: d.dataDir,
    clock: d.clock,
    log: d.log,
  };
}

/** The config's `api` block of one integration, as the source's limits (undefined keys left out). */
function apiLimitsOf(config: HubConfig, name: string): { limits?: Partial<ProviderLimits> } {
  const api = config.integrations[name]?.api;
  if (api === undefined) return {};
  return { limits: Object.fromEntries(Object.entries(api).filter(([, v]) => v !== undefined)) };
}

/** Integrations with their keys loaded: for a process that needs no hub (the CLI's account commands). */
export async function openIntegrations(d: IntegrationsDeps): Promise<Integrations> {
  const i = buildIntegrations(d);
  await i.keys.load();
  return i;
}

import type { Clock } from './clock.js';
import type { HubConfig } from './config/schema.js';
import type { AgentSource } from './agents/source.js';
import type { HttpApp } from './http/express-born.js';
import type { HttpListener } from './http/listener.js';
import type { HubPhase } from './http/routes.js';
import { isLoopbackHost } from './http/security.js';
import type { ApiTokens } from './identity/tokens.js';
import type { Integrations } from './integrations/wiring.js';
import type { Catalog } from './mcp/catalog.js';
import type { Dispatcher } from './mcp/dispatch.js';
import type { HttpFace, HttpFaceOptions } from './mcp/http-face.js';
import type { Logger } from './observability/logger.js';
import type { HubMetrics } from './observability/metrics.js';
import type { PollScheduler } from './polling/scheduler.js';
import { redisHealth, type ReplicaEvents } from './replicas/hub-events.js';
import type { HubStore } from './store/bundle.js';
import type { RedisHandle } from './store/redis/client.js';
import type { Vault } from './vault/vault.js';
import type { InboxService } from './webhooks/inbox/service.js';

/** What the HTTP side is built from: the hub's parts, and the listener it will serve on. */
export interface HubHttpDeps {
  config: HubConfig;
  listener: HttpListener;
  /** The hub's URL on that listener: the authorization server's issuer and resource. */
  publicUrl: string;
  store: HubStore;
  vault: Vault;
  tokens: ApiTokens;
  clock: Clock;
  log: Logger;
  metrics: HubMetrics;
  catalog: Catalog;
  dispatcher: Dispatcher;
  integrations: Integrations;
  pollers: PollScheduler;
  inbox: InboxService;
  agents: AgentSource;
  dataDir: string;
  phase: () => HubPhase;
  cimdCa: string | undefined;
  redis: RedisHandle | undefined;
  replicaEvents: ReplicaEvents | undefined;
  forward: HttpFaceOptions['forward'];
  revocationPollMs: number | undefined;
}

export interface HubHttp {
  face: HttpFace;
  app: HttpApp;
  /** Ends what the integrations' routes keep running. */
  closeMounted: () => void;
}

/**
 * The hub's HTTP side, composed: its own OAuth authorization server, the /mcp face of both eras,
 * and the app with every route of the contract. Loaded on demand: the stdio face starts faster
 * without the HTTP stack (express and friends).
 */
export async function composeHubHttp(d: HubHttpDeps): Promise<HubHttp> {
  const [{ createHttpApp }, { HttpFace }, { mountIntegrations }, { webhookHandler }, { createAuthServer }] = await Promise.all([
    import('./http/app.js'),
    import('./mcp/http-face.js'),
    import('./integrations/mount.js'),
    import('./webhooks/route.js'),
    import('./auth/server.js'),
    ...d.integrations.hosted.map(({ provider }) => provider.load?.()),
  ]);
  const { config, log, listener, replicaEvents, redis } = d;
  const authServer = await createAuthServer({
    store: d.store,
    vault: d.vault,
    clock: d.clock,
    log,
    tokens: d.tokens,
    publicUrl: d.publicUrl,
    config: config.auth,
    cimdCa: d.cimdCa,
    redis,
  });
  const face = new HttpFace({
    dispatcher: d.dispatcher,
    catalog: d.catalog,
    metrics: d.metrics,
    log,
    clock: d.clock,
    maxBodyBytes: config.server.maxBodyBytes,
    limits: config.server.limits,
    // Hub tokens and OAuth grants: revoking either closes its sessions and streams.
    tokens: replicaEvents ? replicaEvents.revocations(authServer.revocations) : authServer.revocations,
    forward: d.forward,
    ...(replicaEvents ? { replicas: replicaEvents.face() } : {}),
    ...(d.revocationPollMs === undefined ? {} : { revocationPollMs: d.revocationPollMs }),
  });
  let closeMounted: () => void = () => {};
  const app = createHttpApp({
    config,
    port: listener.port,
    publicUrl: d.publicUrl,
    tokens: d.tokens,
    authServer,
    face,
    log,
    health: {
      phase: d.phase,
      sources: () => d.catalog.sources(),
      metrics: d.metrics,
      // The data dir is named only on loopback binds: a caller there is on this machine anyway.
      identity: () => ({ linkKeyId: d.integrations.links.keyId(), ...(isLoopbackHost(listener.host) ? { dataDir: d.dataDir } : {}) }),
      pollers: () => d.pollers.status(),
      // Redis's circuits are the ones in use with it; one it cannot read is shown under `redis`.
      breakers: redis ? () => d.integrations.circuits.snapshot().catch(() => []) : () => d.integrations.breakers.snapshot(),
      ...(redis ? { redis: () => redisHealth(redis, replicaEvents) } : {}),
      store: () => d.store.health(),
    },
    webhooks: webhookHandler({
      integrations: d.integrations.webhooks,
      connections: d.integrations.connections,
      inbox: d.inbox.inbox,
      clock: d.clock,
      log,
    }),
    mount: (a) => {
      closeMounted = mountIntegrations(a, d.integrations, { pollers: d.pollers, grants: authServer.grants });
      // Public (signed by the agent platform, see public-routes.ts); the route reads the raw bytes itself.
      const callback = d.agents.tasks?.route;
      if (callback) a.post('/agents/callback/:taskId', (req, res) => void callback(req, res, req.params.taskId));
    },
  });
  return { face, app, closeMounted: () => closeMounted() };
}

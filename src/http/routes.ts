import type { Express, Request, RequestHandler } from 'express';
import type { HubMetrics } from '../observability/metrics.js';
import type { ToolSource } from '../mcp/source.js';
import type { BreakerSnapshot } from '../outbox/breaker.js';
import { within } from '../within.js';
import { fromThisMachine } from './security.js';

/** Where the Prometheus metrics are served; beyond loopback its own guard takes a `metrics` or `admin` token. */
export const METRICS_PATH = '/metrics';

export type HubPhase = 'starting' | 'running' | 'stopping';

export interface HealthDeps {
  phase: () => HubPhase;
  sources: () => readonly ToolSource[];
  metrics: HubMetrics;
  /** Which hub this is (its link-signing key id), so a second hub on this port can tell whether it shares the store. */
  identity?: () => { linkKeyId: string; dataDir?: string };
  /** Each poller's state; a stalled one makes the hub "degraded" (it is never reported as a success). */
  pollers?: () => Promise<ReadonlyArray<{ integration: string; feed: string; connectionId: string; state: string; reason: string | null }>>;
  /** Each integration's circuit breaker; one that is not closed makes the hub "degraded" (its writes wait). */
  breakers?: () => readonly BreakerSnapshot[] | Promise<readonly BreakerSnapshot[]>;
  /**
   * Redis, when replicas share state there: one that cannot be reached makes the hub "degraded"
   * (200: it still serves what needs no Redis, and its errors name Redis), with the reason and never its URL.
   */
  redis?: () => Promise<{ ok: true } | { ok: false; reason: string }>;
  /** One cheap query to the store (`HubStore.health`); one that fails takes this replica out of the load balancer (503). */
  store?: () => Promise<StoreReport>;
}

/** The store's answer as /readyz shows it, to callers who see details (the engine and an error naming the host describe the deployment). */
export type StoreReport = { ok: true; kind: string } | { ok: false; kind: string; error: string };

/** Per-integration breaker state for /readyz: no more than the state, the failure count and when it retries. */
export function breakerReport(breakers: readonly BreakerSnapshot[]) {
  return Object.fromEntries(
    breakers.map((b) => [b.integration, { state: b.state, failures: b.failures, retryAt: b.retryAt === undefined ? null : new Date(b.retryAt).toISOString() }]),
  );
}

/** A source that keeps a circuit per tool (the agents): each one's, as `circuits()` gives them. */
interface WithCircuits {
  circuits(): readonly BreakerSnapshot[] | Promise<readonly BreakerSnapshot[]>;
}

function hasCircuits(s: ToolSource): s is ToolSource & WithCircuits {
  return typeof (s as Partial<WithCircuits>).circuits === 'function';
}

/**
 * The agents' circuits, from the sources that keep them. An agent whose circuit is open fails
 * every call at once with circuit_open; /readyz said "ready" then, and never named it.
 */
async function agentCircuits(sources: readonly ToolSource[]): Promise<readonly BreakerSnapshot[]> {
  const all = await Promise.all(sources.filter(hasCircuits).map((s) => Promise.resolve(s.circuits()).catch(() => [])));
  return all.flat();
}

/** Per-source state for /readyz and doctor. */
export function sourceReport(sources: readonly ToolSource[]) {
  return Object.fromEntries(
    sources.map((s) => {
      const st = s.status();
      return [
        s.name,
        {
          kind: s.kind,
          state: st.state,
          restarts: st.restarts,
          ...(st.detail ? { detail: st.detail } : {}),
          ...(st.protocolVersion ? { protocolVersion: st.protocolVersion } : {}),
        },
      ];
    }),
  );
}

export interface HealthAccess {
  /** Run before /metrics (a token with `metrics` or `admin` beyond loopback, nothing on loopback). */
  metricsGuard: RequestHandler[];
  /** Whether /readyz may name the sources and their states to this caller. */
  details: (req: Request) => boolean | Promise<boolean>;
}

/**
 * /healthz: the process answers. /readyz: 503 until start-up completes and while stopping;
 * afterwards 200 with status "ready", or "degraded" naming the sources that are not ready or the
 * integrations or agents whose circuit breaker is not closed (writes wait in the queue; an agent's calls fail at once) — one broken
 * downstream server or provider must not take the whole hub out of a load balancer. A store that
 * does not answer is the exception: "degraded" with 503, since every request needs it. Source names and
 * errors describe the deployment, so beyond loopback only a metrics or admin token sees them.
 */
/** How long /readyz waits for the breakers' state; past it they are left out (the Redis check says why). */
const BREAKERS_WAIT_MS = 500;

export function mountHealth(app: Express, deps: HealthDeps, access: HealthAccess): void {
  app.get('/healthz', (req, res) => {
    const identity = deps.identity?.();
    // The data dir is for a second hub on this machine; a request a proxy on it forwarded may come from anywhere.
    const shown = identity !== undefined && !fromThisMachine(req) ? { linkKeyId: identity.linkKeyId } : identity;
    res.json({ status: 'ok', ...(shown ? { hub: shown } : {}) });
  });
  app.get('/readyz', async (req, res) => {
    // Asked first: the token lookup may wait on the store, and phase and sources are read after it.
    // A token that cannot be looked up (the store is down) sees no details, as one without the scope.
    const details = await Promise.resolve(access.details(req)).catch(() => false);
    const phase = deps.phase();
    const sources = sourceReport(deps.sources());
    const store = await deps.store?.();
    // Asked together, the breakers within a bound: with Redis down their shared state waits on the
    // client's reconnects (seconds), and a balancer's check times out and takes out every replica
    // of one that still serves what needs no Redis. Redis's own check answers within 1 s.
    const [pollers, breakers, agents, redis] = await Promise.all([
      // The pollers' states are rows in the store: not asked of a store that just failed to answer.
      store?.ok === false ? [] : (deps.pollers?.() ?? []),
      within(Promise.resolve(deps.breakers?.() ?? []), BREAKERS_WAIT_MS, []),
      within(agentCircuits(deps.sources()), BREAKERS_WAIT_MS, []),
      deps.redis?.(),
    ]);
    const stalled = pollers.filter((p) => p.state === 'stalled');
    const shown = details
      ? {
          ...(store ? { store } : {}),
          sources,
          ...(redis ? { redis } : {}),
          ...(breakers.length ? { breakers: breakerReport(breakers) } : {}),
          ...(agents.length ? { agents: breakerReport(agents) } : {}),
          ...(pollers.length
            ? { pollers: pollers.map(({ integration, feed, connectionId, state, reason }) => ({ integration, feed, connectionId, state, reason })) }
            : {}),
        }
      : {};
    if (phase !== 'running') {
      res.status(503).json({ status: phase, ...shown });
      return;
    }
    // Without its store a replica can answer nothing that matters: the balancer sends its clients elsewhere until it answers again.
    if (store?.ok === false) {
      res.status(503).json({ status: 'degraded', ...shown });
      return;
    }
    const degraded =
      redis?.ok === false ||
      stalled.length > 0 ||
      breakers.some((b) => b.state !== 'closed') ||
      agents.some((b) => b.state !== 'closed') ||
      Object.values(sources).some((s) => s.state !== 'ready' && s.state !== 'disabled');
    res.json({ status: degraded ? 'degraded' : 'ready', ...shown });
  });
  app.get(METRICS_PATH, ...access.metricsGuard, async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.text());
  });
}

import type { Express, RequestHandler } from 'express';
import type { HubMetrics } from '../observability/metrics.js';
import type { ToolSource } from '../mcp/source.js';

export type HubPhase = 'starting' | 'running' | 'stopping';

export interface HealthDeps {
  phase: () => HubPhase;
  sources: () => readonly ToolSource[];
  metrics: HubMetrics;
  /** Which hub this is (its link-signing key id), so a second hub on this port can tell whether it shares the store. */
  identity?: () => { linkKeyId: string; dataDir?: string };
}

/** Per-source state for /readyz and doctor. */
export function sourceReport(sources: readonly ToolSource[]) {
  return Object.fromEntries(
    sources.map((s) => {
      const st = s.status();
      return [s.name, { kind: s.kind, state: st.state, restarts: st.restarts, ...(st.detail ? { detail: st.detail } : {}), ...(st.protocolVersion ? { protocolVersion: st.protocolVersion } : {}) }];
    }),
  );
}

/**
 * /healthz: the process answers. /readyz: 503 until start-up completes and while stopping;
 * afterwards 200 with status "ready", or "degraded" naming the sources that are not ready — one
 * broken downstream server must not take the whole hub out of a load balancer.
 */
export function mountHealth(app: Express, deps: HealthDeps, metricsGuard: RequestHandler[]): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', ...(deps.identity ? { hub: deps.identity() } : {}) });
  });
  app.get('/readyz', (_req, res) => {
    const phase = deps.phase();
    const sources = sourceReport(deps.sources());
    if (phase !== 'running') {
      res.status(503).json({ status: phase, sources });
      return;
    }
    const degraded = Object.values(sources).some((s) => s.state !== 'ready' && s.state !== 'disabled');
    res.json({ status: degraded ? 'degraded' : 'ready', sources });
  });
  app.get('/metrics', ...metricsGuard, async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.text());
  });
}

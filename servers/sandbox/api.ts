import express, { type Router } from 'express';
import { apiErrors, fail } from './api-http.js';
import { requireBearer } from './bearer.js';
import type { SandboxContext } from './context.js';
import { eventRoutes } from './events.js';
import type { TokenBuckets } from './rate-limit.js';
import { ticketRoutes } from './tickets.js';
import { webhookRoutes } from './webhooks.js';

/**
 * The REST API under /api. The bearer check (and with it the rate-limit headers) runs once here
 * for every route, so no request is charged twice however the routes are split into modules.
 */
export function apiRoutes(ctx: SandboxContext, buckets: TokenBuckets): Router {
  const router = express.Router();
  router.use(requireBearer(ctx, buckets), express.json({ limit: '64kb' }));
  router.use(ticketRoutes(ctx), eventRoutes(ctx), webhookRoutes(ctx));
  router.use((_req, res) => fail(res, 404, 'not_found', 'no such route'));
  router.use(apiErrors);
  return router;
}

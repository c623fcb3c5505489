import express, { type Request, type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { apiErrors, fail, parse } from './api-http.js';
import { authOf, requireScope } from './bearer.js';
import { authenticateClient } from './client-auth.js';
import { REALM, type SandboxContext } from './context.js';
import { formOf, OAuthError } from './oauth-http.js';
import { MAX_WEBHOOKS_PER_ACCOUNT } from './webhooks-store.js';

const createBody = z.strictObject({ url: z.url({ protocol: /^https?$/ }).max(2048) });
const dropBody = z.strictObject({ share: z.number().min(0).max(1) });

/**
 * Per-account endpoints under /api/webhooks, registered like a repository hook: the answer to
 * POST is the only place the signing secret is ever shown.
 */
export function webhookRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  const owner = (req: Request): string => authOf(req).username;

  router.post('/webhooks', requireScope('write'), (req, res) => {
    const body = parse(createBody, req.body, res);
    if (!body) return;
    const hook = ctx.webhooks.add(owner(req), body.url);
    if (!hook) return fail(res, 409, 'limit_reached', `an account may register ${MAX_WEBHOOKS_PER_ACCOUNT} webhooks at most`);
    res.status(201).location(`${ctx.basePath}/api/webhooks/${hook.id}`).set('Cache-Control', 'no-store').json(hook);
  });

  router.get('/webhooks', requireScope('read'), (req, res) => {
    res.json({ webhooks: ctx.webhooks.list(owner(req)) });
  });

  router.delete('/webhooks/:id', requireScope('write'), (req, res) => {
    const id = String(req.params['id']);
    // Another account's endpoint is "not found" too, so ids of others cannot be probed.
    if (!ctx.webhooks.remove(owner(req), id)) return fail(res, 404, 'not_found', `no webhook ${id}`);
    res.status(204).end();
  });
  return router;
}

/**
 * Run-time switches of the sandbox itself, for demos and tests: `POST /admin/webhooks/drop
 * { share }`. They need a registered client's credentials by HTTP Basic (RFC 6749 §2.3.1
 * encoding), the one secret the operator of a sandbox already holds.
 */
export function adminRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  router.use('/admin', requireClient(ctx), express.json({ limit: '1kb' }));
  router.post('/admin/webhooks/drop', (req, res) => {
    const body = parse(dropBody, req.body, res);
    if (!body) return;
    ctx.dispatcher.setDrop(body.share);
    res.json({ share: ctx.dispatcher.drop });
  });
  router.use('/admin', (_req, res) => fail(res, 404, 'not_found', 'no such route'));
  router.use('/admin', apiErrors);
  return router;
}

function requireClient(ctx: SandboxContext): RequestHandler {
  // An empty form: credentials in the body (client_secret_post) are not read on these routes.
  const noForm = formOf(new URLSearchParams());
  return (req, res, next) => {
    try {
      authenticateClient(req, noForm, ctx.clients);
      next();
    } catch (err) {
      if (!(err instanceof OAuthError)) return next(err);
      // RFC 9110 §11.6.1: a 401 names the scheme it wants.
      res.set('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
      fail(res, 401, 'unauthorized', 'client credentials by HTTP Basic are required');
    }
  };
}

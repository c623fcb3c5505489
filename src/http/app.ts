import '@modelcontextprotocol/express';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/schema.js';
import type { ApiTokens } from '../identity/tokens.js';
import type { HttpFace } from '../mcp/http-face.js';
import { bearerAuth, holdsScope, mountResourceMetadata, resourceUrls } from './auth.js';
import { BodyDeadlines, closeIfBodyUnread } from './limits.js';
import { tokenUnlessPublic } from './public-routes.js';
import { mountHealth, type HealthDeps } from './routes.js';
import { exposure, hostAndOriginGuard } from './security.js';

export interface HttpAppDeps {
  config: HubConfig;
  /** The port actually bound (it differs from config when config asks for 0). */
  port: number;
  publicUrl: string;
  tokens: ApiTokens;
  face: HttpFace;
  health: HealthDeps;
  log: Logger;
  /** Routes of other parts (OAuth linking, /connect, the hosted sandbox), added before the 404 handler. */
  mount?: (app: Express) => void;
}

/**
 * Every HTTP route of the contract, behind a body deadline, Host/Origin checks, body limits and
 * token auth. Order matters: /mcp checks its own token and scope first; then, beyond loopback,
 * every path not in PUBLIC_ROUTES needs a token; only then come the routes that need none.
 */
export function createHttpApp(deps: HttpAppDeps): Express {
  const { config, log, tokens } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const exp = exposure({ ...config, server: { ...config.server, publicUrl: deps.publicUrl } }, deps.port);
  app.use(new BodyDeadlines(config.server.limits.bodyTimeoutMs).middleware);
  app.use(hostAndOriginGuard(exp));

  const urls = resourceUrls(deps.publicUrl);
  // The token is checked on the headers, before the body is read: a caller without one costs no body.
  app.all('/mcp', bearerAuth(tokens, urls, ['mcp']), requireJsonPost, express.json({ limit: config.server.maxBodyBytes, type: () => true }), (req, res, next) => {
    deps.face.handle(req, res).catch(next);
  });

  if (exp.public) app.use(tokenUnlessPublic(bearerAuth(tokens, urls)));
  mountResourceMetadata(app, urls);
  mountHealth(app, deps.health, {
    metricsGuard: exp.public ? [bearerAuth(tokens, urls, ['metrics', 'admin'])] : [],
    details: exp.public ? (req) => holdsScope(tokens, req.headers.authorization, ['metrics', 'admin']) : () => true,
  });

  deps.mount?.(app);

  app.use((req, res) => {
    closeIfBodyUnread(req, res);
    res.status(404).json({ error: { code: 'not_found', message: 'no such route' } });
  });
  app.use(errorHandler(log));
  return app;
}

/** Per the Streamable HTTP transport, POST bodies are JSON; anything else is refused before parsing. */
const requireJsonPost: RequestHandler = (req, res, next) => {
  if (req.method !== 'POST') return next();
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    closeIfBodyUnread(req, res);
    res.status(415).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Content-Type must be application/json' }, id: null });
    return;
  }
  next();
};

function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = err as { type?: string; status?: number; message?: string; body?: unknown };
    if (res.headersSent) {
      res.end();
      return;
    }
    // A body cut off at the size cap is left unread: end the connection rather than drain it.
    closeIfBodyUnread(req, res);
    if (e.type === 'entity.too.large') {
      res.status(413).json({ jsonrpc: '2.0', error: { code: -32600, message: 'Request body too large' }, id: null });
      return;
    }
    if (e.type === 'entity.parse.failed' && isJson(e.body)) {
      // The strict parser also refuses JSON that is not an object or array ("x", 5, null). JSON-RPC
      // 2.0 §5.1 calls that an Invalid Request (-32600); Parse error (-32700) is for invalid JSON.
      res.status(400).json({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request: body is not a JSON-RPC message' }, id: null });
      return;
    }
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: body is not valid JSON' }, id: null });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ jsonrpc: '2.0', error: { code: -32600, message: e.message ?? 'Bad request' }, id: null });
      return;
    }
    log.error({ err: e.message }, 'unhandled error in HTTP route');
    res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null });
  };
}

function isJson(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

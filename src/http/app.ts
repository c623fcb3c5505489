import '@modelcontextprotocol/express';
import { isUtf8 } from 'node:buffer';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/schema.js';
import type { ApiTokens } from '../identity/tokens.js';
import { AS_ROUTES } from '../auth/routes.js';
import type { AuthServer } from '../auth/server.js';
import type { HttpFace } from '../mcp/http-face.js';
import { bearerAuth, holdsScope, mountResourceMetadata, resourceMetadataPaths, resourceUrls } from './auth.js';
import { corsForAllowedOrigins } from './cors.js';
import { BodyDeadlines, closeIfBodyUnread, refuseDeclaredOversize } from './limits.js';
import { declaresUtf8, isMcpPath, isMcpPost, NOT_UTF8_MESSAGE, plainJsonBody, routeWithoutRouter } from './mcp-route.js';
import { tokenUnlessPublic } from './public-routes.js';
import { METRICS_PATH, mountHealth, type HealthDeps } from './routes.js';
import { refusalLog } from './refusal-log.js';
import { refusedTarget } from './request-target.js';
import { refuseBearerAtTokenEndpoint } from './token-bearer.js';
import { exposure, fromThisMachine, hostAndOriginGuard } from './security.js';
import { webhookTarget, type WebhookHandler } from '../webhooks/route.js';
import type { HttpApp } from './express-born.js';
import { ERROR_SPECS, HubError, httpError, isHubError, isJsonRpcCode, jsonRpcHttpError, sendError, type JsonRpcErrorCode } from '../errors.js';
import { MAX_JSON_DEPTH, nestsTooDeep, TOO_DEEP_MESSAGE } from '../mcp/json-depth.js';

export interface HttpAppDeps {
  config: HubConfig;
  /** The port actually bound (it differs from config when config asks for 0). */
  port: number;
  publicUrl: string;
  tokens: ApiTokens;
  face: HttpFace;
  health: HealthDeps;
  log: Logger;
  /** `POST /webhooks/:integration[/:endpoint]`: served ahead of express (after the body deadline and Host/Origin checks); it reads the raw bytes itself. */
  webhooks?: WebhookHandler;
  /** The hub's own OAuth authorization server: its endpoints are mounted and /mcp accepts its access tokens. */
  authServer?: AuthServer;
  /** Routes of other parts (OAuth linking, /connect, the hosted sandbox), added before the 404 handler. */
  mount?: (app: Express) => void;
}

/**
 * Every HTTP route of the contract, behind a body deadline, Host/Origin checks, body limits and
 * token auth. Order matters: /mcp checks its own token and scope first; then, beyond loopback,
 * every path not in PUBLIC_ROUTES needs a token; only then come the routes that need none.
 */
export function createHttpApp(deps: HttpAppDeps): HttpApp {
  const { config, log, tokens } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const exp = exposure({ ...config, server: { ...config.server, publicUrl: deps.publicUrl } }, deps.port);
  const deadlines = new BodyDeadlines(config.server.limits.bodyTimeoutMs);
  const refusals = refusalLog(log);
  const guard = hostAndOriginGuard(exp, refusals);
  app.use(deadlines.middleware);
  app.use(guard);

  const urls = resourceUrls(deps.publicUrl);
  // The token is checked on the headers, before the body is read: a caller without one costs no body.
  const mcpAuth = bearerAuth(tokens, urls, ['mcp'], deps.authServer?.access, refusals);
  const oversize = refuseDeclaredOversize(config.server.maxBodyBytes);
  const mcpBody = express.json({
    limit: config.server.maxBodyBytes,
    type: () => true,
    verify: (req, _res, buf) => {
      if (declaresUtf8(req.headers['content-type']) && !isUtf8(buf)) throw new HubError('parse_error', NOT_UTF8_MESSAGE);
      if (buf.length > MAX_JSON_DEPTH && nestsTooDeep(buf.toString('utf8'))) throw new HubError('bad_request', TOO_DEEP_MESSAGE);
    },
  });
  const mcpHandle: RequestHandler = (req, res, next) => {
    deps.face.handle(req, res).catch(next);
  };
  app.all('/mcp', corsForAllowedOrigins, mcpAuth, mcpMethods, requireJsonPost, oversize, mcpBody, mcpHandle);

  // /metrics has a guard of its own there (mountHealth below), which names the scope it takes.
  if (exp.public) app.use(tokenUnlessPublic(bearerAuth(tokens, urls, [], undefined, refusals), [METRICS_PATH]));
  app.use(resourceMetadataPaths(urls), corsForAllowedOrigins);
  // The library answers CORS on its discovery and token endpoints but not on registration, which a
  // browser client (the Inspector's web UI) calls first: without this its sign-in stops there.
  if (deps.authServer) app.use(AS_ROUTES.registration, corsForAllowedOrigins);
  mountResourceMetadata(app, urls, deps.authServer?.issuer);
  if (deps.authServer) app.post(AS_ROUTES.token, refuseBearerAtTokenEndpoint);
  deps.authServer?.mount(app);
  mountHealth(app, deps.health, {
    metricsGuard: exp.public ? [bearerAuth(tokens, urls, ['metrics', 'admin'])] : [],
    // On loopback a caller on this machine sees them; one a proxy on it forwarded needs the token.
    details: (req) => (!exp.public && fromThisMachine(req)) || holdsScope(tokens, req.headers.authorization, ['metrics', 'admin']),
  });

  deps.mount?.(app);

  app.use((req, res) => {
    closeIfBodyUnread(req, res);
    sendError(res, httpError('not_found', 'no such route'));
  });
  const onError = errorHandler(log);
  app.use(onError);

  // The same steps as the route above, without express's router (src/http/mcp-route.ts).
  const mcpPost = routeWithoutRouter(
    app,
    [deadlines.middleware, guard, corsForAllowedOrigins, mcpAuth, requireJsonPost, oversize, plainJsonBody(config.server.maxBodyBytes, mcpBody), mcpHandle],
    onError,
  );
  const webhooks = deps.webhooks;
  // Webhooks (public: signed by the sender, see public-routes.ts) are answered before express:
  // behind the same body deadline and Host/Origin checks, they need none of its routing, body
  // parsing or response helpers, which cost more than the delivery's own work (`bench:webhooks`).
  const handle: HttpApp['handle'] = (req, res) => {
    // Every answer is JSON, HTML or an event stream of the type it names: no browser may sniff one into another.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (refusedTarget(req, res, refusals)) return;
    if (isMcpPost(req)) return mcpPost(req, res);
    const target = webhooks === undefined ? undefined : webhookTarget(req.method, req.url);
    if (target === undefined || webhooks === undefined) return void app(req, res);
    deadlines.middleware(req, res, () => guard(req, res, () => void webhooks(req, res, target)));
  };
  return { handle, prototypes: { request: app.request, response: app.response } };
}

/** The methods of the Streamable HTTP transport; OPTIONS is a CORS preflight, answered before the token check. */
const MCP_METHODS = new Set(['GET', 'POST', 'DELETE']);

/**
 * Any other method (PUT, PATCH, HEAD, an OPTIONS that is no preflight) is 405 with the methods
 * there are (RFC 9110 §15.5.6), as the SDK's transport answers it, where the session check
 * answered 400 "no valid session ID provided", which sent the client looking for a session.
 */
const mcpMethods: RequestHandler = (req, res, next) => {
  if (MCP_METHODS.has(req.method)) return next();
  closeIfBodyUnread(req, res);
  const answer = jsonRpcHttpError('bad_request', `Method Not Allowed: /mcp takes POST, GET and DELETE, not ${req.method}`);
  res.status(405).set('Allow', 'GET, POST, DELETE').json(answer.body);
};

/** Per the Streamable HTTP transport, POST bodies are JSON; anything else is refused before parsing. */
const requireJsonPost: RequestHandler = (req, res, next) => {
  if (req.method !== 'POST') return next();
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    closeIfBodyUnread(req, res);
    sendError(res, jsonRpcHttpError('unsupported_media_type', 'Content-Type must be application/json'));
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
    // /mcp answers a JSON-RPC error object; every other route the hub's `{ error: { code, message } }`.
    const mcp = isMcpPath(req.path);
    const answer = (code: JsonRpcErrorCode, message: string) => sendError(res, mcp ? jsonRpcHttpError(code, message) : httpError(code, message));
    if (e.type === 'entity.too.large') return answer('body_too_large', 'Request body too large');
    if (e.type === 'entity.parse.failed' && isJson(e.body)) {
      // The strict parser also refuses JSON that is not an object or array ("x", 5, null). JSON-RPC
      // 2.0 §5.1 calls that an Invalid Request (-32600); Parse error (-32700) is for invalid JSON.
      return answer('bad_request', 'Invalid Request: body is not a JSON-RPC message');
    }
    if (e.type === 'entity.parse.failed') return answer('parse_error', 'Parse error: body is not valid JSON');
    if (isHubError(err)) {
      // A 5xx message may describe the deployment; the code says enough to the caller.
      const message = err.spec.http >= 500 ? 'Internal error' : err.message;
      log[err.spec.log]({ code: err.code, err: err.message }, 'HTTP route failed');
      sendError(res, isJsonRpcCode(err.code) && mcp ? jsonRpcHttpError(err.code, message) : httpError(err.code, message));
      return;
    }
    // body-parser's refusals: an unsupported charset or encoding (415), anything else malformed
    // (a path parameter that is not valid percent-encoding is express's 400).
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      return answer(e.status === 415 ? 'unsupported_media_type' : 'bad_request', e.message ?? 'Bad request');
    log[ERROR_SPECS.internal.log]({ err: e.message }, 'unhandled error in HTTP route');
    answer('internal', 'Internal error');
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

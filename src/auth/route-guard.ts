import type { RequestHandler } from 'express';
import { AS_ROUTES, DISCOVERY_PATHS } from './routes.js';

/**
 * The methods each endpoint of the authorization server answers. The library answers any other
 * with a bare `404 Not Found` in text, which reads as "no such endpoint" to a client that only
 * used the wrong method. OPTIONS is the library's own (CORS preflight).
 */
const METHODS: Readonly<Record<string, readonly string[]>> = {
  // POST too would need the library's `enableHttpPostMethods`, off because its interaction cookies
  // are SameSite=Lax and a cross-site POST arrives without them; OAuth 2.1 clients use GET.
  [AS_ROUTES.authorization]: ['GET', 'HEAD'],
  [AS_ROUTES.token]: ['POST'],
  [AS_ROUTES.registration]: ['POST'],
  [AS_ROUTES.revocation]: ['POST'],
  [AS_ROUTES.jwks]: ['GET', 'HEAD'],
  ...Object.fromEntries(DISCOVERY_PATHS.map((p) => [p, ['GET', 'HEAD']])),
};

/** The library's own cap on a form or JSON body (its body parser's `56kb`). */
export const AS_BODY_LIMIT = 56 * 1024;

/** The answer, with 413, to a body over that cap, whether it declared its length or not (oversize-body.ts). */
export const OVERSIZE_BODY = { error: 'invalid_request', error_description: `the request body is over ${AS_BODY_LIMIT} bytes` } as const;

/**
 * In front of the library: a wrong method gets 405 with `Allow`, and a body declared over the
 * library's cap gets 413 (the library reads it as malformed: 400 "failed to parse the request
 * body"), each with an RFC 6749 error object, as the endpoints' other errors are. One sent chunked
 * declares no length: the library counts it, and oversize-body.ts turns its answer into this one.
 */
export const authorizationRouteGuard: RequestHandler = (req, res, next) => {
  const allowed = METHODS[req.path];
  if (!allowed || req.method === 'OPTIONS') return next();
  if (!allowed.includes(req.method)) {
    res.set('Allow', allowed.join(', '));
    res.status(405).json({ error: 'invalid_request', error_description: `${req.path} answers ${allowed.filter((m) => m !== 'HEAD').join(' and ')} only` });
    return;
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > AS_BODY_LIMIT) {
    res.set('Connection', 'close');
    res.status(413).json(OVERSIZE_BODY);
    return;
  }
  next();
};

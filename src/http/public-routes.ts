import type { RequestHandler } from 'express';

/**
 * The routes that take no hub token, and why each is safe without one. This table is the only
 * place that says so: when the hub is bound beyond loopback every path it does not match needs a
 * valid hub token (src/http/app.ts), so a route added later is protected until it is listed here.
 * The README's routes table repeats it (a test compares them).
 */
export interface PublicRoute {
  /** `/x` matches exactly; `/x/*` matches `/x` and everything under `/x/`. */
  path: string;
  why: string;
}

export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { path: '/webhooks/*', why: "signed by the sender with the integration's webhook secret" },
  { path: '/agents/callback/*', why: 'signed by the agent platform' },
  { path: '/oauth/*', why: 'start and callback are bound by the signed, once-only link and the browser that opened it' },
  { path: '/connect/*', why: 'its own signed session cookie' },
  { path: '/.well-known/*', why: 'discovery metadata (RFC 9728, RFC 8414), public by design' },
  { path: '/healthz', why: 'liveness for load balancers; says only that the process answers' },
  { path: '/readyz', why: 'readiness for load balancers; per-source details only with a metrics or admin token' },
  { path: '/authorize/*', why: "the hub's authorization server (src/auth/): PKCE, the user signs in on /sign-in" },
  { path: '/token', why: 'authorization server: code, refresh token or client authentication is the credential' },
  { path: '/revoke', why: 'authorization server (RFC 7009): the token presented is the credential' },
  { path: '/register', why: 'authorization server (RFC 7591): open registration, rate-limited per address; unused clients expire' },
  { path: '/jwks', why: 'authorization server: its public signing keys' },
  {
    path: '/sign-in/*',
    why: 'sign-in and consent pages: the user signs in with a one-time link, a hub token or single sign-on; bound to the browser by the interaction cookie and a CSRF token',
  },
  { path: '/sandbox/*', why: 'the hosted stand-in provider: its own OAuth client authentication and access tokens' },
];

const exact = new Set<string>();
const prefixes: string[] = [];
for (const r of PUBLIC_ROUTES) {
  if (r.path.endsWith('/*')) prefixes.push(r.path.slice(0, -2));
  else exact.add(r.path);
}

/**
 * Whether a request path is in the table. Compared as sent, case and all: a variant spelling
 * (`/Healthz`, `/healthz/`) is not listed and so needs a token, which errs on the safe side.
 */
export function isPublicPath(path: string): boolean {
  if (exact.has(path)) return true;
  for (const p of prefixes) {
    if (path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47) /* '/' */) return true;
  }
  return false;
}

/** Lets listed paths through and sends every other one to `auth`. */
export function tokenUnlessPublic(auth: RequestHandler, guardedElsewhere: readonly string[] = []): RequestHandler {
  return (req, res, next) => {
    if (isPublicPath(req.path) || guardedElsewhere.includes(req.path)) next();
    else auth(req, res, next);
  };
}

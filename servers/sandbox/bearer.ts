import type { Request, RequestHandler, Response } from 'express';
import { REALM, type SandboxContext } from './context.js';
import type { TokenBuckets } from './rate-limit.js';

export interface ApiAuth {
  username: string;
  scopes: readonly string[];
  tokenHash: string;
}

const auths = new WeakMap<Request, ApiAuth>();

/** The identity `requireBearer` attached to this request. */
export function authOf(req: Request): ApiAuth {
  const auth = auths.get(req);
  if (!auth) throw new Error('authOf called on a route without requireBearer');
  return auth;
}

/** RFC 6750 §3: the challenge, with an error code only when credentials were presented. */
function challenge(res: Response, status: 401 | 403, error: 'invalid_token' | 'insufficient_scope' | null, message: string, extra = ''): void {
  const params = error === null ? '' : `, error="${error}", error_description="${message}"${extra}`;
  res
    .set('WWW-Authenticate', `Bearer realm="${REALM}"${params}`)
    .status(status)
    .json({ error: { code: error ?? 'unauthorized', message } });
}

/**
 * Accepts only `Authorization: Bearer` (RFC 6750 §2.1; tokens in the query string are refused,
 * §2.3 advises against them), then charges the token's rate-limit bucket and states the budget
 * on every response.
 */
export function requireBearer(ctx: SandboxContext, buckets: TokenBuckets): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    if (!/^Bearer\s/i.test(header)) {
      // RFC 6750 §3.1: a request without credentials gets no error code.
      return challenge(res, 401, null, 'an access token is required');
    }
    const token = header.slice(7).trim();
    const rec = token === '' ? undefined : ctx.oauth.findToken(token);
    if (rec?.kind !== 'access') return challenge(res, 401, 'invalid_token', 'The access token is not valid');
    if (rec.revokedAt !== null) return challenge(res, 401, 'invalid_token', 'The access token was revoked');
    if (rec.expiresAt !== null && ctx.clock.now() >= rec.expiresAt) return challenge(res, 401, 'invalid_token', 'The access token expired');

    const rate = buckets.take(rec.tokenHash);
    res.set({ 'X-RateLimit-Limit': String(rate.limit), 'X-RateLimit-Remaining': String(rate.remaining), 'X-RateLimit-Reset': String(rate.resetAt) });
    if (!rate.allowed) {
      // RFC 6585 §4 with RFC 9110 §10.2.3: Retry-After in seconds.
      res
        .set('Retry-After', String(rate.retryAfter))
        .status(429)
        .json({ error: { code: 'rate_limited', message: `rate limit exceeded; retry in ${rate.retryAfter} s` } });
      return;
    }
    auths.set(req, { username: rec.username, scopes: rec.scope.split(' '), tokenHash: rec.tokenHash });
    next();
  };
}

/** RFC 6750 §3.1: a valid token without the needed scope is a 403 naming that scope. */
export function requireScope(scope: string): RequestHandler {
  return (req, res, next) => {
    if (authOf(req).scopes.includes(scope)) return next();
    challenge(res, 403, 'insufficient_scope', `The access token lacks the ${scope} scope`, `, scope="${scope}"`);
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeIfBodyUnread } from './limits.js';

/** What a browser client of /mcp must be able to read: the session, the era, the sign-in challenge, when to retry. */
const EXPOSED = 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After';
const METHODS = 'GET, POST, DELETE, OPTIONS';
/** How long a browser may reuse a preflight (Chromium caps it at 2 hours, Firefox at 24). */
const PREFLIGHT_MAX_AGE_S = '600';

/**
 * CORS for a browser MCP client (a web app, the Inspector's web UI) on an origin the hub accepts:
 * its own, or one listed in `server.allowedOrigins`. The Host/Origin guard has already refused
 * every other Origin, so whatever Origin reaches this is allowed, and is echoed (never `*`: the
 * answer differs by Origin, hence `Vary`). A preflight is answered here, before the token check,
 * since a browser sends no credentials with it. No cookies are involved (the token travels in
 * `Authorization`), so no `Allow-Credentials`.
 */
export function corsForAllowedOrigins(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const origin = req.headers.origin;
  if (origin === undefined) {
    next();
    return;
  }
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.setHeader('Access-Control-Allow-Methods', METHODS);
    const asked = req.headers['access-control-request-headers'];
    if (asked !== undefined) res.setHeader('Access-Control-Allow-Headers', asked);
    res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S);
    closeIfBodyUnread(req, res);
    res.writeHead(204);
    res.end();
    return;
  }
  res.setHeader('Access-Control-Expose-Headers', EXPOSED);
  next();
}

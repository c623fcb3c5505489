import type { RequestHandler } from 'express';
import { AS_ROUTES, MCP_SCOPE } from './routes.js';

/**
 * RFC 6749 §3.3: an authorization request that omits `scope` is served with a default or refused.
 * The hub's default is its one resource scope, `mcp`: the consent page always said a client that
 * named no scope asks to use the tools, but the library granted nothing and the user, after
 * clicking Allow, was sent back with `access_denied`. The MCP spec tells a client to send no
 * scope when neither the challenge nor the metadata names one, so such clients exist. A request
 * for `offline_access` alone asks for no access either, and gets `mcp` beside it; one that names
 * `openid` (or anything else) is taken as it is.
 */
export const defaultScope: RequestHandler = (req, _res, next) => {
  if (req.path !== AS_ROUTES.authorization || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
  const at = req.url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : req.url.slice(at + 1));
  const given = params.getAll('scope');
  // Two scope parameters are the library's to refuse (invalid_request), not the hub's to merge.
  if (given.length > 1) return next();
  const asked = (given[0] ?? '').split(' ').filter(Boolean);
  if (asked.some((s) => s !== 'offline_access')) return next();
  params.set('scope', [MCP_SCOPE, ...asked].join(' '));
  req.url = `${req.path}?${params.toString()}`;
  next();
};

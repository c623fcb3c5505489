import express, { type Router } from 'express';
import { authenticateClient } from './client-auth.js';
import { REALM, type SandboxContext } from './context.js';
import { OAuthError, readForm, sendOAuthError } from './oauth-http.js';

/** POST /oauth/revoke (RFC 7009). */
export function revokeRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  router.post('/oauth/revoke', express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' }), (req, res) => {
    try {
      const form = readForm(req);
      const client = authenticateClient(req, form, ctx.clients);
      const token = form.require('token');
      // RFC 7009 §2.1: token_type_hint only speeds up the lookup; tokens here share one table, so
      // the hint is read (a repeated one is still invalid_request) and otherwise ignored.
      form.get('token_type_hint');
      const rec = ctx.oauth.findToken(token);
      if (rec && rec.clientId !== client.id) {
        // RFC 7009 §2.1: a client may revoke only tokens issued to it.
        throw new OAuthError('invalid_request', 'the token was not issued to this client');
      }
      if (rec?.kind === 'refresh') {
        // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of its grant.
        ctx.oauth.revokeGrant(rec.grantId);
      } else if (rec) {
        ctx.oauth.revokeToken(rec.tokenHash);
      }
      // RFC 7009 §2.2: 200 whether or not the token was known, and the body is not used.
      res.set('Cache-Control', 'no-store').status(200).end();
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendOAuthError(res, err, REALM);
    }
  });
  return router;
}

import express, { type Router } from 'express';
import { authenticateClient, type SandboxClient } from './client-auth.js';
import { REALM, type SandboxContext } from './context.js';
import { OAuthError, noStore, readForm, sendOAuthError, type Form } from './oauth-http.js';
import { safeEqual, s256 } from './secrets.js';
import type { IssuedTokens } from './store.js';

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** RFC 6749 §5.1 successful response body. */
interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in?: number;
  refresh_token?: string;
  scope: string;
}

/** POST /oauth/token: the authorization_code and refresh_token grants. */
export function tokenRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  router.post('/oauth/token', express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' }), (req, res) => {
    try {
      const form = readForm(req);
      const client = authenticateClient(req, form, ctx.clients);
      const grantType = form.require('grant_type');
      let body: TokenResponse;
      if (grantType === 'authorization_code') body = exchangeCode(ctx, client, form);
      else if (grantType === 'refresh_token') body = refresh(ctx, client, form);
      else throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
      noStore(res).status(200).json(body);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendOAuthError(res, err, REALM);
    }
  });
  return router;
}

/** RFC 6749 §4.1.3 with RFC 7636 §4.6. */
function exchangeCode(ctx: SandboxContext, client: SandboxClient, form: Form): TokenResponse {
  const code = form.require('code');
  const redirectUri = form.require('redirect_uri');
  const verifier = form.require('code_verifier');
  if (!VERIFIER.test(verifier)) throw new OAuthError('invalid_request', 'code_verifier must be 43-128 unreserved characters');
  const rec = ctx.oauth.findCode(code);
  if (!rec || rec.clientId !== client.id) throw new OAuthError('invalid_grant', 'unknown authorization code');
  if (rec.usedAt !== null) {
    // RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens already issued from it.
    ctx.oauth.revokeGrant(rec.grantId);
    throw new OAuthError('invalid_grant', 'authorization code already used; its tokens are revoked');
  }
  if (ctx.clock.now() >= rec.expiresAt) throw new OAuthError('invalid_grant', 'authorization code expired');
  if (redirectUri !== rec.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  // A wrong verifier leaves the code unused: whoever holds the right one can still redeem it.
  if (!safeEqual(s256(verifier), rec.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match code_challenge');
  const issued = ctx.oauth.redeemCode(code, ctx.accessTtlMs);
  if (!issued) {
    ctx.oauth.revokeGrant(rec.grantId);
    throw new OAuthError('invalid_grant', 'authorization code already used; its tokens are revoked');
  }
  return respond(ctx, issued, rec.scope);
}

/** RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2). */
function refresh(ctx: SandboxContext, client: SandboxClient, form: Form): TokenResponse {
  const token = form.require('refresh_token');
  const rec = ctx.oauth.findToken(token);
  if (rec?.kind !== 'refresh' || rec.clientId !== client.id) throw new OAuthError('invalid_grant', 'unknown refresh token');
  if (rec.revokedAt !== null) throw new OAuthError('invalid_grant', 'refresh token revoked');
  if (rec.rotatedAt !== null) {
    // A rotated token presented again means two parties hold it; the server cannot tell which one
    // is legitimate, so the whole grant goes (RFC 9700 §4.14.2).
    ctx.oauth.revokeGrant(rec.grantId);
    throw new OAuthError('invalid_grant', 'refresh token already used; the authorization is revoked');
  }
  const granted = rec.scope.split(' ');
  const requested =
    form
      .get('scope')
      ?.split(' ')
      .filter((s) => s !== '') ?? [];
  // RFC 6749 §6: a refresh may not widen the scope originally granted.
  if (requested.some((s) => !granted.includes(s))) throw new OAuthError('invalid_scope', 'scope exceeds the scope originally granted');
  const issued = ctx.oauth.rotate(rec, ctx.accessTtlMs, ctx.omitRefreshTokenOnRefresh);
  if (!issued) {
    ctx.oauth.revokeGrant(rec.grantId);
    throw new OAuthError('invalid_grant', 'refresh token already used; the authorization is revoked');
  }
  return respond(ctx, issued, rec.scope);
}

function respond(ctx: SandboxContext, issued: IssuedTokens, scope: string): TokenResponse {
  const body: TokenResponse = { access_token: issued.accessToken, token_type: 'Bearer', scope };
  if (!ctx.omitExpiresIn) body.expires_in = Math.round(ctx.accessTtlMs / 1000);
  if (issued.refreshToken !== null) body.refresh_token = issued.refreshToken;
  return body;
}

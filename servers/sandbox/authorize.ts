import { parseCookie } from 'cookie';
import express, { type Response, type Router } from 'express';
import { SCOPES, type SandboxContext } from './context.js';
import { formOf, type OAuthError, queryOf, readForm, type Form } from './oauth-http.js';
import { PAGE_HEADERS, consentPage, errorPage } from './pages.js';
import { digest } from './secrets.js';
import type { PendingAuthorization } from './store.js';

/** RFC 6749 §4.1.2.1 error codes that travel back on the redirect. */
type RedirectError = 'invalid_request' | 'unsupported_response_type' | 'invalid_scope' | 'access_denied';

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** RFC 7636 §4.2: an S256 challenge is 32 bytes in base64url without padding, 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** GET shows the login + consent form; POST takes the decision and redirects back to the client. */
export function authorizeRoutes(ctx: SandboxContext): Router {
  const router = express.Router();
  const action = `${ctx.basePath}/oauth/authorize`;
  const page = (res: Response, status: number, html: string): void => void res.status(status).set(PAGE_HEADERS).send(html);
  type Outcome = { code: string } | { error: RedirectError; error_description: string };
  const back = (res: Response, redirectUri: string, params: Outcome & { state: string | null }): void => {
    // RFC 6749 §3.1.2: keep the redirect URI's own query; RFC 9207 §2: iss on every response.
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries({ ...params, iss: ctx.issuer })) if (v !== null) url.searchParams.append(k, v);
    res.set('Cache-Control', 'no-store').redirect(302, url.href);
  };
  const cookieName = (interaction: string): string => `sbx_ia_${digest(interaction).slice(0, 16)}`;
  const cookiePath = action;
  const secure = ctx.issuer.startsWith('https:') ? '; Secure' : '';

  router.get('/oauth/authorize', (req, res) => {
    const form = formOf(queryOf(req));
    // RFC 6749 §4.1.2.1: until client and redirect URI are known good, tell the user, never redirect.
    let clientId: string | undefined;
    let redirectUri: string | undefined;
    try {
      clientId = form.get('client_id');
      redirectUri = form.get('redirect_uri');
    } catch (err) {
      return page(res, 400, errorPage('Invalid request', (err as OAuthError).message));
    }
    const client = clientId === undefined ? undefined : ctx.clients.get(clientId);
    if (!client) return page(res, 400, errorPage('Unknown application', 'The client_id is missing or not registered with Sandbox.'));
    if (redirectUri === undefined || !client.redirectUris.includes(redirectUri)) {
      return page(res, 400, errorPage('Invalid redirect URI', 'The redirect_uri is missing or not registered for this application.'));
    }
    let state: string | null = null;
    try {
      state = form.get('state') ?? null;
      const checked = validate(form);
      if ('error' in checked) return back(res, redirectUri, { error: checked.error, error_description: checked.description, state });
      const pending: PendingAuthorization = { clientId: client.id, redirectUri, state, ...checked };
      const { interaction, browser } = ctx.oauth.openInteraction(pending);
      // The form's interaction id only works together with this cookie, which a cross-site post
      // does not carry (SameSite=Lax): a page elsewhere cannot submit consent for this browser.
      res.set('Set-Cookie', `${cookieName(interaction)}=${browser}; Path=${cookiePath}; Max-Age=600; HttpOnly; SameSite=Lax${secure}`);
      return page(res, 200, consentPage({ action, clientName: client.name ?? client.id, scopes: pending.scope.split(' '), interaction }));
    } catch (err) {
      return back(res, redirectUri, { error: 'invalid_request', error_description: (err as OAuthError).message, state });
    }
  });

  router.post('/oauth/authorize', express.text({ type: 'application/x-www-form-urlencoded', limit: '8kb' }), (req, res) => {
    const origin = req.get('origin');
    if (origin !== undefined && origin !== new URL(ctx.issuer).origin) return page(res, 403, errorPage('Forbidden', 'This form was posted from another site.'));
    let form: Form;
    let interaction: string | undefined;
    try {
      form = readForm(req);
      interaction = form.get('interaction');
    } catch (err) {
      return page(res, 400, errorPage('Invalid request', (err as OAuthError).message));
    }
    const browser = interaction === undefined ? undefined : parseCookie(req.get('cookie') ?? '')[cookieName(interaction)];
    const pending = interaction && browser ? ctx.oauth.findInteraction(interaction, browser) : undefined;
    const client = pending && ctx.clients.get(pending.clientId);
    if (!interaction || !pending || !client) {
      return page(res, 400, errorPage('Sign-in expired', 'This sign-in request expired or was already used. Start again from the application.'));
    }
    const decision = form.get('decision');
    const username = (form.get('username') ?? '').trim().toLowerCase();
    const again = (error: string): void =>
      page(res, 400, consentPage({ action, clientName: client.name ?? client.id, scopes: pending.scope.split(' '), interaction, username, error }));
    if (decision !== 'allow' && decision !== 'deny') return again('Choose Allow or Deny.');
    if (decision === 'allow' && !USERNAME.test(username)) return again('A username is 1–64 letters, digits, dots, dashes or underscores.');
    if (!ctx.oauth.closeInteraction(interaction)) return page(res, 400, errorPage('Sign-in expired', 'This sign-in request was already used.'));
    res.append('Set-Cookie', `${cookieName(interaction)}=; Path=${cookiePath}; Max-Age=0; HttpOnly; SameSite=Lax${secure}`);
    if (decision === 'deny')
      return back(res, pending.redirectUri, { error: 'access_denied', error_description: 'the user denied the request', state: pending.state });
    const code = ctx.oauth.grant(pending, username);
    return back(res, pending.redirectUri, { code, state: pending.state });
  });

  return router;
}

/** The authorization request's remaining parameters, or the error to redirect with. */
function validate(form: Form): { scope: string; codeChallenge: string } | { error: RedirectError; description: string } {
  const responseType = form.get('response_type');
  if (responseType === undefined) return { error: 'invalid_request', description: 'response_type is required' };
  if (responseType !== 'code') return { error: 'unsupported_response_type', description: 'only response_type=code is supported' };
  // RFC 9700 §2.1.1 and RFC 7636 §4.4.1: PKCE is required, and only S256 (a missing method means "plain").
  const challenge = form.get('code_challenge');
  if (challenge === undefined) return { error: 'invalid_request', description: 'code_challenge is required' };
  if (form.get('code_challenge_method') !== 'S256') return { error: 'invalid_request', description: 'code_challenge_method must be S256' };
  if (!S256_CHALLENGE.test(challenge)) return { error: 'invalid_request', description: 'code_challenge is not an S256 challenge' };
  const requested = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
  const unknown = requested.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) return { error: 'invalid_scope', description: `unknown scope: ${unknown.join(' ')}` };
  const scope = (requested.length === 0 ? [...SCOPES] : SCOPES.filter((s) => requested.includes(s))).join(' ');
  return { scope, codeChallenge: challenge };
}

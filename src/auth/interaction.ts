import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { formBody } from '../http/form-body.js';
import { refusalLog } from '../http/refusal-log.js';
import type { InteractionDetails } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ApiTokens } from '../identity/tokens.js';
import { accountId, parseAccountId } from './account.js';
import type { Grants, SignedInWith } from './grants.js';
import { INVITE_PATH, inviteCodeIn, type Invites } from './invites.js';
import { finishInteraction } from './finish-interaction.js';
import { consentPage, failurePage, invitePage, PAGE_HEADERS, signInPage, type ClientView } from './pages.js';
import { AS_ROUTES, MCP_SCOPE, SIGN_IN_PATH, publicPathOf } from './routes.js';
import { SSO_CALLBACK_PATH, type Sso, SsoError } from './sso.js';

export interface SignInDeps {
  /** The library, loaded in the background when the HTTP face starts. */
  provider: () => Promise<Provider>;
  tokens: ApiTokens;
  invites: Invites;
  grants: Grants;
  /** `auth.oidc`: users sign in with the company's identity provider instead of a hub credential. */
  sso?: Sso | undefined;
  /** Whether the credential a session signed in with still stands (server.ts); consent is refused when not. */
  signInStands: (amr: readonly string[] | undefined) => Promise<boolean>;
  /** Secret of the form's CSRF token (the cookie key). */
  formSecret: Buffer;
  issuer: string;
  log: Logger;
}

const loginForm = z.object({ csrf: z.string().max(100), token: z.string().trim().min(1).max(600) });

/** The scopes a token may carry (provider.ts `scopes`). */
const KNOWN_SCOPES = new Set([MCP_SCOPE, 'offline_access', 'openid']);
/** The identity provider's answer at the callback: a code, or its `error` (OpenID Connect Core §3.1.2.6). */
const ssoAnswerSchema = z.object({
  state: z.string().max(200),
  code: z.string().max(2000).optional(),
  iss: z.string().max(500).optional(),
  error: z.string().max(100).optional(),
});

const consentForm = z.object({ csrf: z.string().max(100), decision: z.enum(['allow', 'deny', 'switch']) });
const stringArray = z.array(z.string());

/**
 * The embedded sign-in (part 1): the library sends the browser to `/sign-in/:uid`; the user signs
 * in with a hub API token, then sees the client, where it will be sent back to and the scopes, and
 * allows or denies. Posts carry a synchronizer token bound to the interaction (only the browser
 * holding the library's SameSite interaction cookie reaches this interaction), and a post from
 * another origin is refused even if that origin is allowed for the hub's API.
 */
export function mountSignIn(app: Express, deps: SignInDeps): void {
  const origin = new URL(deps.issuer).origin;
  // The routes are the hub's own; the forms and redirects the browser follows are under the public
  // URL's path, which a proxy serving the hub there strips (routes.ts).
  const signInPath = `${publicPathOf(deps.issuer)}${SIGN_IN_PATH}`;
  const form = formBody(4096);
  const csrf = (uid: string) => createHmac('sha256', deps.formSecret).update(`sign-in\0${uid}`).digest('base64url');
  const csrfOk = (given: string, uid: string) => {
    const a = Buffer.from(given);
    const b = Buffer.from(csrf(uid));
    return a.length === b.length && timingSafeEqual(a, b);
  };
  // One grant per interaction: a consent posted twice (a double click on Allow, a resent form, two
  // replicas each taking one post) saves the same grant, not a second one no token is ever issued
  // under. Derived with the form secret so that it cannot be guessed from the interaction's uid.
  const consentGrantId = (uid: string, account: string, clientId: string) =>
    createHmac('sha256', deps.formSecret).update(`grant\0${uid}\0${account}\0${clientId}`).digest('hex').slice(0, 32);
  // Anyone who opens a sign-in page can post guesses at it: refusals are logged (README, HTTP
  // routes) at their code's level and throttled per code, with why, never with what was pasted.
  const refused = refusalLog(deps.log);
  const refuseForm = (res: Response, step: 'login' | 'consent') => {
    refused('forbidden', { method: 'POST', path: `${SIGN_IN_PATH}/:uid/${step}`, why: 'form not sent from its own page' }, 'sign-in refused');
    send(res, 403, failurePage('This form was not sent from its own page.'));
  };

  /** The interaction this browser is in, or a page saying why not. */
  async function interaction(provider: Provider, req: Request, res: Response): Promise<InteractionDetails | undefined> {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid === req.params['uid']) return details;
    } catch {
      // No interaction cookie (another browser, or it expired): nothing to resume.
    }
    send(res, 400, failurePage('This sign-in has expired or belongs to another browser. Start again from your app.'));
    return undefined;
  }

  async function clientOf(provider: Provider, details: InteractionDetails): Promise<ClientView> {
    const clientId = String(details.params['client_id'] ?? '');
    const client = await provider.Client.find(clientId);
    const redirect = String(details.params['redirect_uri'] ?? client?.redirectUris[0] ?? '');
    const scopes = String(details.params['scope'] ?? '')
      .split(' ')
      .filter(Boolean);
    return { clientId, name: client?.clientName, redirectUri: redirect, scopes: scopes.length ? scopes : [MCP_SCOPE] };
  }

  // The page's own origin is the issuer's, or the Host the browser used (already checked against
  // the allowed hosts): a browser that reached the hub as localhost posts from there.
  const fromElsewhere = (req: Request) => {
    if (req.headers['sec-fetch-site'] === 'cross-site') return true;
    const from = req.headers.origin;
    return from !== undefined && from !== origin && from !== `${req.protocol}://${req.headers.host}`;
  };

  // Opening a sign-in link shows how to use it; the code (in the fragment, never sent here) is
  // spent only on a sign-in page, so a link preview cannot use it up.
  app.get(INVITE_PATH, (_req, res) => send(res, 200, invitePage()));

  // The identity provider's answer: sent on to the interaction it belongs to, where the library's
  // interaction cookie (scoped to that path) proves it is the same browser.
  app.get(SSO_CALLBACK_PATH, async (req, res) => {
    const sso = deps.sso;
    if (!sso) return send(res, 404, failurePage('Single sign-on is not configured on this hub.'));
    const q = ssoAnswerSchema.safeParse(req.query);
    const uid = q.success ? await sso.interactionOf(q.data.state) : undefined;
    if (!q.success || uid === undefined) return send(res, 400, failurePage('This sign-in has expired or is unknown. Start again from your app.'));
    // A code, or the identity provider's refusal (the user pressed Cancel there): either goes on
    // to the interaction, whose client is then told (a refusal as RFC 6749 §4.1.2.1 says).
    const { state, code, iss, error } = q.data;
    const answer: Record<string, string> = code !== undefined ? { code, ...(iss === undefined ? {} : { iss }) } : { error: error ?? 'access_denied' };
    res.set('Cache-Control', 'no-store').redirect(303, `${signInPath}/${uid}/sso?${new URLSearchParams({ state, ...answer })}`);
  });

  app.get(`${SIGN_IN_PATH}/:uid/sso`, async (req, res) => {
    const sso = deps.sso;
    if (!sso) return send(res, 404, failurePage('Single sign-on is not configured on this hub.'));
    const provider = await deps.provider();
    const details = await interaction(provider, req, res);
    if (!details) return;
    // From here the client is known and waits on its redirect URI: a sign-in that fails is its
    // answer (RFC 6749 §4.1.2.1), not a page that leaves it waiting until it gives up.
    const refuse = (error: string, description: string) =>
      finishInteraction(provider, req, res, { error, error_description: description }, { mergeWithLastSubmission: false });
    const q = ssoAnswerSchema.safeParse(req.query);
    if (q.success && q.data.code === undefined && (await sso.interactionOf(q.data.state)) === details.uid) {
      deps.log.info({ error: q.data.error }, 'single sign-on: the identity provider did not sign the user in');
      return refuse(q.data.error === 'temporarily_unavailable' ? q.data.error : 'access_denied', 'the company sign-in did not sign the user in');
    }
    let who: { tenant: string; user: string };
    try {
      who = await sso.finish(details.uid, req.query);
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'single sign-on refused');
      if (err instanceof SsoError) return refuse('access_denied', `the company sign-in did not complete: ${err.message}`);
      return refuse('temporarily_unavailable', 'the company sign-in did not complete: its answer was not understood or did not come');
    }
    deps.log.info({ user: who.user, tenant: who.tenant, via: 'sso' }, 'OAuth sign-in');
    await endOtherSession(provider, req, res, details, accountId(who));
    await finishInteraction(
      provider,
      req,
      res,
      { login: { accountId: accountId(who), amr: await deps.grants.amrOf({ via: 'sso', issuer: sso.issuer }) } },
      { mergeWithLastSubmission: false },
    );
  });

  app.get(`${SIGN_IN_PATH}/:uid`, async (req, res) => {
    const provider = await deps.provider();
    const details = await interaction(provider, req, res);
    if (!details) return;
    const client = await clientOf(provider, details);
    // Scopes the hub does not know are dropped from a grant; asking for none it knows would end,
    // after the user signed in, in a grant with nothing in it. Refused at once instead (RFC 6749 §4.1.2.1).
    const asked = String(details.params['scope'] ?? '')
      .split(' ')
      .filter(Boolean);
    if (asked.length > 0 && !asked.some((s) => KNOWN_SCOPES.has(s)))
      return finishInteraction(
        provider,
        req,
        res,
        { error: 'invalid_scope', error_description: `this hub grants the ${MCP_SCOPE} scope (and offline_access, openid); asked for: ${asked.join(' ')}` },
        { mergeWithLastSubmission: false },
      );
    if (details.prompt.name === 'login' && deps.sso) {
      try {
        return void res.set('Cache-Control', 'no-store').redirect(303, await deps.sso.begin(details.uid, { reauthenticate: asksForLogin(details.params) }));
      } catch (err) {
        deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'single sign-on unavailable');
        // The client waits on its redirect URI: told, as RFC 6749 §4.1.2.1 says, rather than left waiting.
        return finishInteraction(
          provider,
          req,
          res,
          { error: 'temporarily_unavailable', error_description: 'the company sign-in is unavailable right now; try again later, or ask the hub operator' },
          { mergeWithLastSubmission: false },
        );
      }
    }
    if (details.prompt.name === 'login')
      return send(res, 200, signInPage(client, { action: `${signInPath}/${details.uid}/login`, csrf: csrf(details.uid) }), client);
    const who = parseAccountId(details.session?.accountId ?? '');
    if (details.prompt.name === 'consent' && who)
      return send(res, 200, consentPage(client, who, { action: `${signInPath}/${details.uid}/consent`, csrf: csrf(details.uid) }), client);
    send(res, 400, failurePage(`This sign-in asks for "${details.prompt.name}", which this hub does not offer.`));
  });

  app.post(`${SIGN_IN_PATH}/:uid/login`, form, async (req, res) => {
    const provider = await deps.provider();
    const details = await interaction(provider, req, res);
    if (!details) return;
    const body = loginForm.safeParse(req.body);
    if (fromElsewhere(req) || !body.success || !csrfOk(body.data.csrf, details.uid)) return refuseForm(res, 'login');
    const client = await clientOf(provider, details);
    const retry = (why: string, fields: Record<string, unknown> = {}) => {
      refused('unauthorized', { method: 'POST', path: `${SIGN_IN_PATH}/:uid/login`, clientId: client.clientId, why, ...fields }, 'sign-in refused');
      send(res, 401, signInPage(client, { action: `${signInPath}/${details.uid}/login`, csrf: csrf(details.uid) }, why), client);
    };
    const login = async (who: { tenant: string; user: string }, how: SignedInWith, again = false) => {
      const said = again ? 'OAuth sign-in: the form was sent again with the link this sign-in spent; it goes on' : 'OAuth sign-in';
      deps.log.info({ user: who.user, tenant: who.tenant, clientId: client.clientId, via: how.via }, said);
      await endOtherSession(provider, req, res, details, accountId(who));
      await finishInteraction(
        provider,
        req,
        res,
        { login: { accountId: accountId(who), amr: await deps.grants.amrOf(how) } },
        { mergeWithLastSubmission: false },
      );
    };
    const code = inviteCodeIn(body.data.token);
    if (code !== undefined) {
      // The interaction that spends a link may send it again (a double click on "Sign in", a
      // resent post): the browser shows the answer to the last post, which goes on as the first did.
      const invited = await deps.invites.redeem(code, details.uid);
      if (invited === 'used') return retry('That sign-in link was already used. Ask the hub operator for a new one.');
      if (invited === 'expired') return retry('That sign-in link has expired. Ask the hub operator for a new one.');
      if (invited === undefined) return retry('That is not a sign-in link of this hub.');
      return login(invited, { via: 'invite' }, invited.again);
    }
    const checked = await deps.tokens.check(body.data.token);
    if (checked === 'expired') return retry('That token has expired. Create a new one.');
    if (checked === undefined) return retry('That is not a valid hub token (unknown or revoked).');
    if (!checked.scopes.includes(MCP_SCOPE)) return retry('That token lacks the mcp scope, so it cannot use tools.', { tokenId: checked.tokenId });
    await login(checked, { via: 'token', tokenId: checked.tokenId! });
  });

  app.post(`${SIGN_IN_PATH}/:uid/consent`, form, async (req, res) => {
    const provider = await deps.provider();
    const details = await interaction(provider, req, res);
    if (!details) return;
    const body = consentForm.safeParse(req.body);
    if (fromElsewhere(req) || !body.success || !csrfOk(body.data.csrf, details.uid)) return refuseForm(res, 'consent');
    const account = details.session?.accountId;
    if (details.prompt.name !== 'consent' || account === undefined) return send(res, 400, failurePage('There is nothing to consent to here.'));
    if (body.data.decision === 'deny') {
      await finishInteraction(provider, req, res, { error: 'access_denied', error_description: 'the user denied access' }, { mergeWithLastSubmission: false });
      return;
    }
    // "Not you?": the browser signed in as someone else within the day (a shared machine). That
    // session ends (the library would otherwise ask the browser to sign out through an end-session
    // endpoint the hub does not offer), and the same authorization request starts again asking for
    // a sign-in: whoever signs in then is the one asked to consent.
    if (body.data.decision === 'switch') {
      const uid = details.session?.uid;
      if (uid !== undefined) await (await provider.Session.findByUid(uid))?.destroy();
      deps.log.info({ account, clientId: details.params['client_id'] }, 'OAuth sign-in: the user chose to sign in as someone else');
      return void res.set('Cache-Control', 'no-store').redirect(303, signInAgain(deps.issuer, details.params));
    }
    // Checked again here: the token may have been revoked since the authorization request began.
    if (!(await deps.signInStands(details.session?.amr))) {
      refused(
        'unauthorized',
        { method: 'POST', path: `${SIGN_IN_PATH}/:uid/consent`, why: 'the hub token the user signed in with was revoked' },
        'sign-in refused',
      );
      return send(res, 401, failurePage('The hub token you signed in with has been revoked. Start again from your app, and sign in again.'));
    }
    const clientId = String(details.params['client_id']);
    const how = await deps.grants.signedInWith(z.array(z.string()).optional().parse(details.session?.amr), deps.sso?.issuer);
    // The grant this interaction consents to: the client's existing one in this browser's session,
    // else the one an earlier post of this form saved, else the one the user gave this client when
    // signing in the same way from another browser or an ended session (README: a client's later
    // sign-ins share one grant), else a new one under this form's id (`jti` is the library's id field).
    const ownId = consentGrantId(details.uid, account, clientId);
    const held = async () => {
      const who = parseAccountId(account);
      const id = how && who ? await deps.grants.heldFor(who, clientId, how) : undefined;
      return id === undefined ? undefined : provider.Grant.find(id);
    };
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      (await provider.Grant.find(ownId)) ??
      (await held()) ??
      new provider.Grant({ jti: ownId, accountId: account, clientId });
    const missing = details.prompt.details;
    const oidcScopes = stringArray.safeParse(missing['missingOIDCScope']);
    if (oidcScopes.success) grant.addOIDCScope(oidcScopes.data.join(' '));
    const claims = stringArray.safeParse(missing['missingOIDCClaims']);
    if (claims.success) grant.addOIDCClaims(claims.data);
    const resources = z.record(z.string(), stringArray).safeParse(missing['missingResourceScopes']);
    if (resources.success) for (const [indicator, scopes] of Object.entries(resources.data)) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    if (how) await deps.grants.noteSignIn(grantId, how);
    deps.log.info({ account, clientId }, 'OAuth consent given');
    await finishInteraction(provider, req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });
}

/**
 * Someone else signs in on a browser whose session is another account's (a shared machine: asked
 * to sign in again because that account's hub token was revoked, or by `prompt=login`, or someone
 * signed in in another tab since this sign-in page opened). That session ends first, as "Not you?"
 * ends it: finishing a login over it, the library answers with a form posting to its end-session
 * endpoint, which the hub does not offer (provider.ts), and the sign-in never reached consent.
 * The interaction forgets the session it began in, or resuming it in a new one is refused as a
 * mismatch. The same account signing in again keeps its session.
 */
async function endOtherSession(provider: Provider, req: Request, res: Response, details: InteractionDetails, account: string): Promise<void> {
  const session = await provider.Session.get({ req, res });
  if (session.accountId === undefined || session.accountId === account) return;
  await session.destroy();
  if (details.session === undefined) return;
  delete details.session;
  // Seconds left of the library's own expiry, which it keeps on the real clock.
  await details.save(details.exp - Math.floor(Date.now() / 1000));
}

/** The authorization request of an interaction, asking for a sign-in (OIDC `prompt=login`) whatever the session holds. */
/** Whether the app (or "sign in as someone else", which sends `prompt=login`) asked for a fresh sign-in. */
function asksForLogin(params: InteractionDetails['params']): boolean {
  return String(params['prompt'] ?? '')
    .split(' ')
    .includes('login');
}

function signInAgain(issuer: string, params: InteractionDetails['params']): string {
  // On the issuer's path (a proxy's prefix), kept root-relative: the browser stays on the host it used.
  const url = new URL(`${issuer}${AS_ROUTES.authorization}`);
  for (const [name, value] of Object.entries(params)) {
    if (name === 'prompt') continue;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') url.searchParams.append(name, v);
  }
  url.searchParams.set('prompt', 'login');
  return url.pathname + url.search;
}

/**
 * Pages with the hub's headers; `form-action` also names where the client is sent back to,
 * because browsers apply it to the redirects that follow a form post.
 */
function send(res: Response, status: number, body: string, client?: ClientView): void {
  const target = client ? formTarget(client.redirectUri) : '';
  res
    .status(status)
    .set({
      ...PAGE_HEADERS,
      'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${target}; frame-ancestors 'none'; base-uri 'none'`,
    })
    .type('html')
    .send(body);
}

function formTarget(redirectUri: string): string {
  try {
    const u = new URL(redirectUri);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return ` ${u.protocol}`;
    // CSP's host-source grammar has no IPv6 literal (host-char is ALPHA / DIGIT / "-", CSP3 §2.3.1;
    // w3c/webappsec-csp#224): browsers drop `http://[::1]:PORT` as invalid and then block the
    // redirect that carries the code. The scheme is the narrowest source they accept; only the
    // pages of a client sent back to such a host get it, and the pages run no script.
    if (u.hostname.startsWith('[')) return ` ${u.protocol}`;
    return ` ${u.origin}`;
  } catch {
    return '';
  }
}

import { randomBytes } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { formBody } from './form-body.js';
import { z } from 'zod';
import type { GrantView } from '../auth/grants.js';
import type { Clock } from '../clock.js';
import { ERROR_SPECS, describeError, isHubError, type HubErrorCode } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { Accounts } from '../integrations/accounts.js';
import type { PollerStatus } from '../polling/scheduler.js';
import { publicPathOf } from '../auth/routes.js';
import { sha256, type ConnectSessions, type LinkUses } from '../oauth/link-uses.js';
import type { LinkPayload, LinkSigner } from '../oauth/links.js';
import type { Logger } from '../observability/logger.js';
import type { BreakerSnapshot } from '../outbox/breaker.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { connectPage, noticeFor } from './connect-page.js';
import { csrfMatches, csrfToken } from './csrf.js';
import { answerLinkPreview, isLinkPreview } from './link-preview.js';
import { PAGE_HEADERS, messagePage } from './pages.js';

const SESSION_COOKIE = 'sb_connect';
/**
 * A /connect session lasts 30 minutes from its link and is never extended: OWASP ASVS 4.0 §3.3.2
 * bounds an idle session at 30 minutes for this level of risk, and a session that cannot be renewed
 * cannot be kept alive by whoever holds a copy of its cookie.
 */
export const SESSION_TTL_MS = 30 * 60_000;
const revokeForm = z.object({ integration: z.string().regex(/^[A-Za-z0-9_-]{1,48}$/), csrf: z.string().min(1).max(200) });
const logoutForm = z.object({ csrf: z.string().min(1).max(200) });
const revokeGrantForm = z.object({ grant: z.string().min(1).max(200), csrf: z.string().min(1).max(200) });

export interface ConnectDeps {
  accounts: Accounts;
  /** The pollers of this hub, for a line per connection they read. */
  pollers?: { status(): Promise<PollerStatus[]> };
  /** The integrations' circuit breakers, for a line per integration whose writes are paused. */
  breakers?: { snapshot(): BreakerSnapshot[] | Promise<BreakerSnapshot[]> };
  links: LinkSigner;
  uses: LinkUses;
  sessions: ConnectSessions;
  clock: Clock;
  log: Logger;
  secureCookies: boolean;
  /** Where browsers reach the hub (`server.publicUrl`, without a trailing slash): the pages are under its path. */
  publicUrl: string;
  /** OAuth clients the user authorized on the hub's authorization server (src/auth/grants.ts). */
  grants?: {
    list(filter: { tenant: string; user: string }): Promise<GrantView[]>;
    revoke(grantId: string): Promise<boolean>;
  };
}

interface Session {
  identity: Identity;
  token: string;
  payload: LinkPayload;
}

/**
 * `/connect`: the user's integrations, each connection's health, and link / re-link / revoke.
 * Entered through a signed link that works once and becomes a session: a different kind of token
 * (signed for another purpose), kept in an HttpOnly SameSite=Strict cookie, recorded server-side so
 * that log-out ends it. Forms carry a token derived from the session.
 */
export function mountConnectPage(app: Express, deps: ConnectDeps): void {
  const send = (res: Response, status: number, html: string) => res.status(status).set(PAGE_HEADERS).type('html').send(html);
  const refuse = (res: Response, code: HubErrorCode, title: string, message: string) =>
    send(res, ERROR_SPECS[code].http, messagePage(title, message, { failure: true, code }));
  // The route is the hub's own; the browser reaches it under the public URL's path, which a proxy
  // serving the hub there strips (auth/routes.ts): redirects, forms and the cookie's Path carry it.
  const here = `${publicPathOf(deps.publicUrl)}/connect`;
  const cookieOptions = { path: here, sameSite: 'strict', secure: deps.secureCookies } as const;

  const session = async (req: Request): Promise<Session | 'none' | 'ended'> => {
    const token = readCookie(req, SESSION_COOKIE);
    if (!token) return 'none';
    try {
      const payload = deps.links.verify(token, 'session');
      if (!(await deps.sessions.live(payload))) return 'ended';
      return { identity: { tenant: payload.t, user: payload.u, scopes: [] }, token, payload };
    } catch {
      return 'ended';
    }
  };

  // Express answers HEAD with the GET handler, which spends an entry link and sets the session
  // cookie: a link-preview fetcher's HEAD would use the link up before its user opens it. HEAD with
  // a link answers 200 with the page headers and changes nothing, as /oauth/:integration/start does;
  // without one, the GET handler serves it (showing the page changes nothing).
  app.head('/connect', (req, res, next) => {
    if (req.query['link'] === undefined) return next();
    res.status(200).set(PAGE_HEADERS).type('html').end();
  });

  app.get('/connect', async (req, res) => {
    const link = typeof req.query['link'] === 'string' ? req.query['link'] : undefined;
    if (link !== undefined) {
      // A chat app unfurling the pasted link would otherwise spend it before its user opens it.
      if (isLinkPreview(req)) return answerLinkPreview(res);
      try {
        const p = deps.links.verify(link, 'connect');
        // Once only: claimed and spent in one go by a browser no other request can name.
        const browser = sha256(randomBytes(32).toString('base64url'));
        const used = (await deps.uses.claim(p, browser)) === 'ok' ? await deps.uses.spend(p, browser) : 'used';
        if (used !== 'ok')
          return refuse(res, 'oauth_flow_failed', 'Link not valid', 'This link was already used; a link works once. Run `switchboard connect` for a new one.');
        const token = deps.links.mint('session', { tenant: p.t, user: p.u, scopes: [] }, undefined, SESSION_TTL_MS);
        await deps.sessions.open(deps.links.verify(token, 'session'));
        setCookie(res, SESSION_COOKIE, token, { ...cookieOptions, maxAgeSeconds: SESSION_TTL_MS / 1000 });
        // Drop the link from the address bar and history.
        return void res.set('Cache-Control', 'no-store').redirect(303, here);
      } catch (err) {
        return refuse(res, 'oauth_flow_failed', 'Link not valid', describeError(err));
      }
    }
    const s = await session(req);
    if (s === 'none' || s === 'ended') {
      const why = s === 'ended' ? 'Your session has ended (it lasts 30 minutes, or you logged out). ' : '';
      return send(
        res,
        ERROR_SPECS.unauthorized.http,
        messagePage('Manage your accounts', `${why}Open the link printed by \`switchboard connect\` (or given by a tool) to manage your linked accounts.`, {
          code: 'unauthorized',
        }),
      );
    }
    const a = deps.accounts;
    send(
      res,
      200,
      connectPage({
        identity: s.identity,
        rows: await a.status(s.identity),
        now: deps.clock.now(),
        path: here,
        linkUrl: (name) => a.linkUrl(s.identity, name),
        csrf: csrfToken(s.token),
        sessionEndsAt: s.payload.exp,
        notice: noticeFor(req.query['revoked'], req.query['confirmed']),
        pollers: (await deps.pollers?.status()) ?? [],
        // Shared circuits Redis cannot read now are left out: the page still lists the accounts.
        breakers: (await Promise.resolve(deps.breakers?.snapshot()).catch(() => undefined)) ?? [],
        clients: (await deps.grants?.list({ tenant: s.identity.tenant, user: s.identity.user })) ?? [],
        clientRevoked: req.query['client'] === 'revoked',
      }),
    );
  });

  const form = formBody(4096);
  const checked = (s: Session | 'none' | 'ended', csrf: string | undefined): s is Session =>
    typeof s === 'object' && csrf !== undefined && csrfMatches(csrf, s.token);

  app.post('/connect/revoke', form, async (req, res) => {
    const s = await session(req);
    const body = revokeForm.safeParse(req.body);
    if (!body.success || !checked(s, body.data.csrf))
      return refuse(res, 'forbidden', 'Not allowed', 'This form has expired or did not come from your /connect page. Open it again.');
    const c = await deps.accounts.connections.find(s.identity.tenant, s.identity.user, body.data.integration);
    if (!c) return refuse(res, 'not_found', 'Nothing to revoke', `There is no ${body.data.integration} connection.`);
    try {
      const r = await deps.accounts.revoke(c);
      if (r.warning)
        deps.log.warn(
          { integration: body.data.integration, warning: r.warning },
          r.asked ? 'revoked locally; the provider did not confirm' : 'revoked locally; the provider was not asked',
        );
      const confirmed = r.warning === undefined ? 'yes' : r.asked ? 'no' : 'unasked';
      res.redirect(303, `${here}?revoked=${encodeURIComponent(body.data.integration)}&confirmed=${confirmed}`);
    } catch (err) {
      deps.log.error({ err: describeError(err) }, 'revoke failed');
      refuse(res, isHubError(err) ? err.code : 'internal', 'Revoke failed', describeError(err));
    }
  });

  // Ends one of the user's own grants: its tokens stop working and its sessions close at once.
  app.post('/connect/revoke-client', form, async (req, res) => {
    const s = await session(req);
    const body = revokeGrantForm.safeParse(req.body);
    if (!body.success || !checked(s, body.data.csrf))
      return refuse(res, 'forbidden', 'Not allowed', 'This form has expired or did not come from your /connect page. Open it again.');
    const own = (await deps.grants?.list({ tenant: s.identity.tenant, user: s.identity.user }))?.find((g) => g.grantId === body.data.grant);
    if (!own || !(await deps.grants!.revoke(own.grantId))) return refuse(res, 'not_found', 'Nothing to revoke', 'That app no longer has access.');
    deps.log.info({ user: s.identity.user, tenant: s.identity.tenant, clientId: own.clientId }, 'OAuth grant revoked on /connect');
    res.redirect(303, `${here}?client=revoked`);
  });

  app.post('/connect/logout', form, async (req, res) => {
    const s = await session(req);
    const body = logoutForm.safeParse(req.body);
    if (!body.success || !checked(s, body.data.csrf))
      return refuse(res, 'forbidden', 'Not allowed', 'This form has expired or did not come from your /connect page. Open it again.');
    await deps.sessions.end(s.payload);
    clearCookie(res, SESSION_COOKIE, cookieOptions);
    send(res, 200, messagePage('Logged out', 'You are logged out of this page. Open a new link from `switchboard connect` to come back.'));
  });
}

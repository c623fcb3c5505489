import { randomBytes } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { formBody } from './form-body.js';
import { z } from 'zod';
import { publicPathOf } from '../auth/routes.js';
import type { Clock } from '../clock.js';
import { ERROR_SPECS, HubError, describeError, isHubError, type HubErrorCode } from '../errors.js';
import type { Accounts } from '../integrations/accounts.js';
import type { Logger } from '../observability/logger.js';
import { callbackQuery, FLOW_TTL_MS } from '../oauth/flows.js';
import { sha256, type LinkUseOutcome, type LinkUses } from '../oauth/link-uses.js';
import type { LinkPayload, LinkSigner } from '../oauth/links.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { csrfMatches, csrfToken } from './csrf.js';
import { html, type Html } from './html.js';
import { confirmPage, linkedPage } from './link-pages.js';
import { answerLinkPreview, isLinkPreview } from './link-preview.js';
import { PAGE_HEADERS, messagePage } from './pages.js';
import { refusalLog, type RefusalLog } from './refusal-log.js';

export interface OAuthRouteDeps {
  accounts: Accounts;
  links: LinkSigner;
  uses: LinkUses;
  clock: Clock;
  log: Logger;
  secureCookies: boolean;
  /** Where browsers reach the hub (`server.publicUrl`, without a trailing slash): the pages are under its path. */
  publicUrl: string;
}

const integrationParam = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/);
const startQuery = z.object({ link: z.string().min(1).max(4096) });
const confirmForm = z.object({ link: z.string().min(1).max(4096), csrf: z.string().min(1).max(128) });

const REFUSED: Record<Exclude<LinkUseOutcome, 'ok'>, string> = {
  used: 'this link was already used; a link works once.',
  other_browser: 'this link was opened in another browser first; a link works only in the browser that opened it.',
};

/**
 * What a person whose linking failed can do next, under every such page: a denied consent, an
 * expired or spent link and a provider's refusal all end the same way, with a new link, which the
 * page otherwise never said how to get.
 */
function howToRetry(integration: string | undefined, title: string | undefined): Html {
  const what = title ?? 'the account';
  const command = `switchboard connect ${integration ?? '<integration>'} --user <you>`;
  return html`To link ${what}, call one of its tools again in your MCP client: it answers with a new link. Or run <code>${command}</code>, which prints one.`;
}

/** The per-link cookie that binds a link to the first browser that opened it. */
/**
 * The confirm page's policy has no `form-action`. Browsers that enforce it (Chrome, Safari) check
 * every redirect that follows the post, and a provider's authorize endpoint often sends the
 * browser on to a sign-in origin of its own (Atlassian: auth.atlassian.com → id.atlassian.com;
 * Salesforce: login → my.salesforce.com; Microsoft to a federated identity provider), which no
 * list made here can know: Continue would do nothing. The form's target is the hub's own path,
 * and the page runs no script and takes no markup from outside, so nothing could retarget it.
 */
const CONFIRM_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

const browserCookie = (link: LinkPayload) => `sb_link_${sha256(link.n).slice(0, 16)}`;

/** The codes whose message is written for the person at the browser; anything else is shown as `internal`. */
const SHOWN: ReadonlySet<HubErrorCode> = new Set(['oauth_flow_failed', 'oauth_endpoint_unavailable', 'forbidden', 'vault_key_missing', 'vault_decrypt_failed']);

/** How long a browser is asked to wait when the store did not answer (a database restart, a failover). */
const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * Answers a linking failure with a page, and logs it at its code's level with the integration.
 * The messages name what went wrong, never a value sent along (link, state, code, token, secret):
 * the redeem errors drop a code the provider echoes (flows.ts), and a library error's own fields
 * (its request and response) are never logged.
 */
function fail(res: Response, err: unknown, log: Logger, refused: RefusalLog, name?: string, titleOf?: (integration: string) => string | undefined): void {
  const detail = isHubError(err) ? err.details?.['integration'] : undefined;
  const integration = name ?? (typeof detail === 'string' ? detail : undefined);
  // The store did not answer (a PostgreSQL restart, a locked SQLite file): nothing was decided, and
  // the same page, reloaded once it is back, goes on where it stopped. The store's own words stay in the log.
  if (isHubError(err) && err.code === 'store_failed') {
    log.warn({ code: err.code, integration, err: describeError(err) }, 'linking waits for the store');
    res
      .status(503)
      .set(PAGE_HEADERS)
      .set('Retry-After', String(STORE_RETRY_AFTER_SECONDS))
      .type('html')
      .send(
        messagePage('Linking paused', "The hub's database did not answer just now; nothing was changed. Reload this page in a few seconds.", {
          failure: true,
          code: err.code,
        }),
      );
    return;
  }
  const known = isHubError(err) && SHOWN.has(err.code);
  const code = known ? err.code : 'internal';
  // A link's junk (a made-up state, a replayed callback) is anyone's to send: throttled per code.
  if (known) refused(code, { integration, why: err.message }, 'linking failed');
  else log.error({ code, integration, err: describeError(err) }, 'linking failed unexpectedly');
  const message = known ? describeError(err) : 'Something went wrong while linking; nothing was changed. Try the link again.';
  // Only an integration the hub has is named: the path's segment is anyone's to write.
  const title = integration === undefined ? undefined : titleOf?.(integration);
  const next = code === 'oauth_flow_failed' ? howToRetry(title === undefined ? undefined : integration, title) : undefined;
  res
    .status(ERROR_SPECS[code].http)
    .set(PAGE_HEADERS)
    .type('html')
    .send(messagePage('Linking failed', message, { failure: true, code, ...(next === undefined ? {} : { next }) }));
}

/**
 * `/oauth/:integration/start`: GET shows who the link is for (claiming it for this browser), POST
 * spends it and sends the browser to the provider. `/oauth/callback`: the provider's answer.
 */
export function mountOAuthRoutes(app: Express, deps: OAuthRouteDeps): void {
  const { accounts, links, uses, log } = deps;
  const refused = refusalLog(log);
  // The routes are the hub's own; the browser reaches them under the public URL's path, which a
  // proxy serving the hub there strips (auth/routes.ts): the form and the cookies' Paths carry it.
  // The redirect URI is an absolute URL on the public URL already (integrations/wiring.ts).
  const root = publicPathOf(deps.publicUrl);
  const callbackPath = `${root}/oauth/callback`;

  const titleOf = (integration: string): string | undefined => accounts.integration(integration)?.definition.title;

  /** The integration a start request names, when it is a name at all (it is logged). */
  const nameOf = (req: Request): string | undefined => {
    const name = integrationParam.safeParse(req.params['integration']);
    return name.success ? name.data : undefined;
  };

  /** The link of a start request, checked against the integration named in the path. */
  const linkFor = (req: Request, token: string): { name: string; link: LinkPayload; title: string } => {
    const name = integrationParam.safeParse(req.params['integration']);
    if (!name.success) throw new HubError('oauth_flow_failed', 'this link is incomplete; use the whole link you were given');
    const link = links.verify(token, 'link');
    const i = accounts.integration(name.data);
    if (!i || link.i !== name.data) throw new HubError('oauth_flow_failed', 'this link is for another integration');
    return { name: name.data, link, title: i.definition.title };
  };

  // Express answers HEAD with the GET handler; link-preview fetchers often send HEAD, and must not
  // claim a link for themselves before its user opens it.
  app.head('/oauth/:integration/start', (_req, res) => {
    res.status(200).set(PAGE_HEADERS).type('html').end();
  });

  app.get('/oauth/:integration/start', async (req, res) => {
    // Its GET claims the link for the browser that sends it: a chat app unfurling the pasted link must not be that browser.
    if (isLinkPreview(req)) return answerLinkPreview(res);
    try {
      const q = startQuery.safeParse(req.query);
      if (!q.success) throw new HubError('oauth_flow_failed', 'this link is incomplete; use the whole link you were given');
      const { name, link, title } = linkFor(req, q.data.link);
      const cookie = browserCookie(link);
      const browser = readCookie(req, cookie) ?? randomBytes(32).toString('base64url');
      const claimed = await uses.claim(link, sha256(browser));
      if (claimed !== 'ok') throw new HubError('oauth_flow_failed', REFUSED[claimed]);
      const path = `${root}/oauth/${name}/start`;
      // Lax: the link is opened from a client or a chat, a top-level navigation from elsewhere.
      setCookie(res, cookie, browser, { path, maxAgeSeconds: (link.exp - deps.clock.now()) / 1000, sameSite: 'lax', secure: deps.secureCookies });
      res
        .set(PAGE_HEADERS)
        .set('Content-Security-Policy', CONFIRM_PAGE_CSP)
        .type('html')
        .send(confirmPage({ tenant: link.t, user: link.u, title, action: path, link: q.data.link, csrf: csrfToken(browser) }));
    } catch (err) {
      fail(res, err, log, refused, nameOf(req), titleOf);
    }
  });

  app.post('/oauth/:integration/start', formBody(8192), async (req, res) => {
    try {
      const form = confirmForm.safeParse(req.body);
      if (!form.success) throw new HubError('forbidden', 'this form did not come from the confirmation page; open the link again');
      const { name, link } = linkFor(req, form.data.link);
      const cookie = browserCookie(link);
      const browser = readCookie(req, cookie);
      // The cookie is SameSite=Lax, so a post from another site arrives without it; the csrf field
      // is bound to the cookie, so a page elsewhere cannot forge it either.
      if (browser === undefined || !csrfMatches(form.data.csrf, browser)) {
        throw new HubError('forbidden', 'this form did not come from the confirmation page in this browser; open the link again');
      }
      const spent = await uses.spend(link, sha256(browser));
      if (spent !== 'ok') throw new HubError('oauth_flow_failed', REFUSED[spent]);
      const started = await accounts.start(name, form.data.link);
      // The link cookie stays until the link expires, so a replayed confirmation hears "already used".
      // The flow is bound to this browser too: the callback must come back with this cookie.
      setCookie(res, accounts.cookieName(started.state), started.browserSecret, {
        path: callbackPath,
        maxAgeSeconds: FLOW_TTL_MS / 1000,
        sameSite: 'lax',
        secure: deps.secureCookies,
      });
      // RFC 9110 §15.4.4: 303 turns the post into a GET at the provider.
      res.set('Cache-Control', 'no-store').redirect(303, started.authorizeUrl);
    } catch (err) {
      fail(res, err, log, refused, nameOf(req), titleOf);
    }
  });

  app.get('/oauth/callback', async (req, res) => {
    const q = callbackQuery.safeParse(req.query);
    if (!q.success) return fail(res, new HubError('oauth_flow_failed', 'the authorization response is malformed'), log, refused, undefined, titleOf);
    const cookie = q.data.state ? accounts.cookieName(q.data.state) : undefined;
    try {
      const { connection, title } = await accounts.complete(q.data, cookie ? readCookie(req, cookie) : undefined);
      if (cookie) clearCookie(res, cookie, { path: callbackPath, sameSite: 'lax', secure: deps.secureCookies });
      res
        .set(PAGE_HEADERS)
        .type('html')
        .send(linkedPage({ tenant: connection.tenant, user: connection.user, title }));
    } catch (err) {
      fail(res, err, log, refused, undefined, titleOf);
    }
  });
}

import type { Express, Response } from 'express';
import { z } from 'zod';
import { describeError, isHubError } from '../errors.js';
import { clearCookie, readCookie, setCookie } from '../http/cookies.js';
import { PAGE_HEADERS, messagePage } from '../http/pages.js';
import type { Accounts } from '../integrations/accounts.js';
import type { Logger } from '../observability/logger.js';
import { callbackQuery, FLOW_TTL_MS } from './flows.js';

const startQuery = z.object({ link: z.string().min(1).max(4096) });
const integrationParam = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/);

function fail(res: Response, err: unknown, log: Logger): void {
  const known = isHubError(err) && err.code === 'oauth_flow_failed';
  if (!known) log.error({ err: describeError(err) }, 'linking failed unexpectedly');
  res
    .status(known ? 400 : 500)
    .set(PAGE_HEADERS)
    .type('html')
    .send(messagePage('Linking failed', known ? describeError(err) : 'Something went wrong while linking; nothing was changed. Try the link again.', { failure: true, code: known ? 'oauth_flow_failed' : 'internal' }));
}

/** `/oauth/:integration/start` (from a signed link) and `/oauth/callback` (from the provider). */
export function mountOAuthRoutes(app: Express, accounts: Accounts, opts: { secureCookies: boolean; log: Logger }): void {
  app.get('/oauth/:integration/start', (req, res) => {
    try {
      const integration = integrationParam.safeParse(req.params.integration);
      const q = startQuery.safeParse(req.query);
      if (!integration.success || !q.success) {
        res.status(400).set(PAGE_HEADERS).type('html').send(messagePage('Linking failed', 'This link is incomplete; use the whole link you were given.', { failure: true, code: 'oauth_flow_failed' }));
        return;
      }
      const started = accounts.start(integration.data, q.data.link);
      // The flow is bound to this browser: the callback must come back with this cookie.
      setCookie(res, accounts.cookieName(started.state), started.browserSecret, {
        path: '/oauth/callback',
        maxAgeSeconds: FLOW_TTL_MS / 1000,
        sameSite: 'Lax',
        secure: opts.secureCookies,
      });
      res.set('Cache-Control', 'no-store').redirect(302, started.authorizeUrl);
    } catch (err) {
      fail(res, err, opts.log);
    }
  });

  app.get('/oauth/callback', async (req, res) => {
    const q = callbackQuery.safeParse(req.query);
    if (!q.success) {
      res.status(400).set(PAGE_HEADERS).type('html').send(messagePage('Linking failed', 'The authorization response is malformed.', { failure: true, code: 'oauth_flow_failed' }));
      return;
    }
    const cookie = q.data.state ? accounts.cookieName(q.data.state) : undefined;
    try {
      const { title } = await accounts.complete(q.data, cookie ? readCookie(req, cookie) : undefined);
      if (cookie) clearCookie(res, cookie, '/oauth/callback');
      res.set(PAGE_HEADERS).type('html').send(messagePage(`${title} is linked`, `Your ${title} account is linked. You can close this tab and go back to your client; its tools work now.`));
    } catch (err) {
      fail(res, err, opts.log);
    }
  });
}

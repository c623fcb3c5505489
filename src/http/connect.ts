import { createHash } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { describeError, isHubError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { Accounts, IntegrationStatus } from '../integrations/accounts.js';
import type { LinkSigner } from '../oauth/links.js';
import type { Logger } from '../observability/logger.js';
import { readCookie, setCookie } from './cookies.js';
import { PAGE_HEADERS, escapeHtml, messagePage, page } from './pages.js';

const SESSION_COOKIE = 'sb_connect';
const SESSION_TTL_MS = 8 * 3600_000;
const revokeForm = z.object({ integration: z.string().regex(/^[A-Za-z0-9_-]{1,48}$/), csrf: z.string().min(1).max(200) });

const csrfOf = (session: string) => createHash('sha256').update(`csrf\0${session}`).digest('base64url');

export interface ConnectDeps {
  accounts: Accounts;
  links: LinkSigner;
  clock: Clock;
  log: Logger;
  secureCookies: boolean;
}

/**
 * `/connect`: the user's integrations, each connection's health, and link / re-link / revoke.
 * Entered through a signed link, which becomes a short-lived HttpOnly session cookie; the
 * revoke form carries a token derived from that cookie and the cookie is SameSite=Strict.
 */
export function mountConnectPage(app: Express, deps: ConnectDeps): void {
  const send = (res: Response, status: number, html: string) => res.status(status).set(PAGE_HEADERS).type('html').send(html);

  const session = (req: Request): { identity: Identity; token: string } | undefined => {
    const token = readCookie(req, SESSION_COOKIE);
    if (!token) return undefined;
    try {
      const p = deps.links.verify(token, 'connect');
      return { identity: { tenant: p.t, user: p.u, scopes: [] }, token };
    } catch {
      return undefined;
    }
  };

  app.get('/connect', (req, res) => {
    const link = typeof req.query['link'] === 'string' ? req.query['link'] : undefined;
    if (link !== undefined) {
      try {
        const p = deps.links.verify(link, 'connect');
        const token = deps.links.mint('connect', { tenant: p.t, user: p.u, scopes: [] }, undefined, SESSION_TTL_MS);
        setCookie(res, SESSION_COOKIE, token, { path: '/connect', maxAgeSeconds: SESSION_TTL_MS / 1000, sameSite: 'Strict', secure: deps.secureCookies });
        // Drop the link from the address bar and history.
        res.set('Cache-Control', 'no-store').redirect(303, '/connect');
      } catch (err) {
        send(res, 400, messagePage('Link not valid', describeError(err), { failure: true, code: 'oauth_flow_failed' }));
      }
      return;
    }
    const s = session(req);
    if (!s) {
      send(res, 401, messagePage('Manage your accounts', 'Open the link printed by `switchboard connect` (or given by a tool) to manage your linked accounts.', { code: 'unauthorized' }));
      return;
    }
    const notice = noticeFor(req.query['revoked'], req.query['confirmed']);
    send(res, 200, page(`Accounts of ${s.identity.user}`, notice + table(deps.accounts.status(s.identity), s, deps)));
  });

  app.post('/connect/revoke', express.urlencoded({ extended: false, limit: 4096 }), async (req, res) => {
    const s = session(req);
    const form = revokeForm.safeParse(req.body);
    if (!s || !form.success || form.data.csrf !== csrfOf(s.token)) {
      send(res, 403, messagePage('Not allowed', 'This form has expired or did not come from your /connect page. Open it again.', { failure: true, code: 'forbidden' }));
      return;
    }
    const c = deps.accounts.connections.find(s.identity.tenant, s.identity.user, form.data.integration);
    if (!c) {
      send(res, 404, messagePage('Nothing to revoke', `There is no ${form.data.integration} connection.`, { failure: true, code: 'not_found' }));
      return;
    }
    try {
      const r = await deps.accounts.revoke(c);
      if (r.warning) deps.log.warn({ integration: form.data.integration, warning: r.warning }, 'revoked locally; the provider did not confirm');
      res.redirect(303, `/connect?revoked=${encodeURIComponent(form.data.integration)}&confirmed=${r.warning ? 'no' : 'yes'}`);
    } catch (err) {
      deps.log.error({ err: describeError(err) }, 'revoke failed');
      send(res, isHubError(err) ? err.spec.http : 500, messagePage('Revoke failed', describeError(err), { failure: true, code: isHubError(err) ? err.code : 'internal' }));
    }
  });
}

function table(rows: IntegrationStatus[], s: { identity: Identity; token: string }, deps: ConnectDeps): string {
  if (rows.length === 0) return '<p>No integrations are configured.</p>';
  const now = deps.clock.now();
  const body = rows
    .map((r) => {
      const c = r.connection;
      const state = c?.state ?? 'unlinked';
      const linkUrl = deps.accounts.linkUrl(s.identity, r.name);
      const health = !c
        ? 'Not linked.'
        : c.state === 'active'
          ? `Linked ${ago(now - c.createdAt)} ago${c.lastRefreshAt ? `; token refreshed ${ago(now - c.lastRefreshAt)} ago` : ''}${c.accessExpiresAt ? `; access token ${c.accessExpiresAt > now ? `valid for ${ago(c.accessExpiresAt - now)}` : 'expired, refreshed on next use'}` : ''}${c.refreshFailures ? `; ${c.refreshFailures} failed refresh attempt(s)` : ''}.`
          : (c.reason ?? '');
      const actions = [`<a class="button" href="${escapeHtml(linkUrl)}">${c && c.state !== 'revoked' ? 'Re-link' : 'Link'}</a>`];
      if (c && c.state !== 'revoked') {
        actions.push(
          `<form method="post" action="/connect/revoke"><input type="hidden" name="integration" value="${escapeHtml(r.name)}"><input type="hidden" name="csrf" value="${escapeHtml(csrfOf(s.token))}"><button type="submit">Revoke</button></form>`,
        );
      }
      return `<tr><td><strong>${escapeHtml(r.title)}</strong><br><small>${escapeHtml(r.name)}</small></td><td class="state ${state}">${escapeHtml(state.replace('_', ' '))}</td><td>${escapeHtml(health)}</td><td>${actions.join(' ')}</td></tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>Integration</th><th>State</th><th>Health</th><th></th></tr></thead><tbody>${body}</tbody></table>`;
}

/** The page states what happened in its own words: query text is never shown, so a link cannot put words in its mouth. */
function noticeFor(revoked: unknown, confirmed: unknown): string {
  if (typeof revoked !== 'string' || !/^[A-Za-z0-9_-]{1,48}$/.test(revoked)) return '';
  const tail = confirmed === 'no' ? ' The provider did not confirm the revocation; the hub has forgotten the tokens anyway.' : '';
  return `<p class="notice">Revoked ${escapeHtml(revoked)}.${tail}</p>`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

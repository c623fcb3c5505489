import type { GrantView } from '../auth/grants.js';
import type { Identity } from '../identity/identity.js';
import type { Connection } from '../connections/types.js';
import type { IntegrationStatus } from '../integrations/accounts.js';
import type { BreakerSnapshot } from '../outbox/breaker.js';
import type { PollerStatus } from '../polling/scheduler.js';
import { html, type Html } from './html.js';
import { page } from './pages.js';

export interface ConnectView {
  identity: Identity;
  /** The page's path as the browser sees it, under the public URL's path; its forms post below it. Default `/connect`. */
  path?: string;
  rows: IntegrationStatus[];
  now: number;
  /** A fresh link per integration (each works once). */
  linkUrl: (integration: string) => string;
  csrf: string;
  /** When the session ends, to say so on the page. */
  sessionEndsAt: number;
  notice: Html | '';
  /** Pollers of the hub; each of this user's connections shows a line per feed it reads. */
  pollers?: readonly PollerStatus[];
  /** The integrations' circuit breakers; each one not closed shows a line saying when writes resume. */
  breakers?: readonly BreakerSnapshot[];
  /** OAuth clients (apps) this user authorized, each with a revoke button. */
  clients?: readonly GrantView[];
  clientRevoked?: boolean;
}

/** The /connect page: one row per integration with its state, its health and its actions. */
export function connectPage(v: ConnectView): string {
  const logout = html`<form method="post" action="${formsAt(v)}/logout"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit">Log out</button></form>`;
  const footer = html`<p><small>This page stays open for ${ago(v.sessionEndsAt - v.now)} more, then needs a new link.</small> ${logout}</p>`;
  return page(`Accounts of ${v.identity.user}`, html`${v.notice}${pausedElsewhere(v)}${table(v)}${apps(v)}${footer}`);
}

const formsAt = (v: ConnectView) => v.path ?? '/connect';

/** Apps that signed in to the hub as this user (OAuth), and a button that ends each one's access. */
function apps(v: ConnectView): Html | '' {
  const done = v.clientRevoked ? html`<p class="notice">Revoked the app's access; its open sessions are closed.</p>` : '';
  if (!v.clients?.length) return done;
  const rows = v.clients.map(
    (g) =>
      html`<tr><td><strong>${g.clientName ?? g.clientId}</strong><br><small>${g.clientId}</small></td><td>${g.scopes.join(' ')}</td><td>Authorized ${ago(v.now - g.createdAt)} ago; ${g.lastUsedAt === undefined ? 'not used yet' : `last used ${ago(v.now - g.lastUsedAt)} ago`}.</td><td><form method="post" action="${formsAt(v)}/revoke-client"><input type="hidden" name="grant" value="${g.grantId}"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit">Revoke</button></form></td></tr>\n`,
  );
  return html`<h2>Apps signed in as you</h2>${done}<table><thead><tr><th>App</th><th>Scopes</th><th>Use</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function table(v: ConnectView): Html {
  if (v.rows.length === 0) return html`<p>No integrations are configured.</p>`;
  const rows = v.rows.map((r) => {
    const c = r.connection;
    const state = c?.state ?? 'unlinked';
    const revoke =
      c && c.state !== 'revoked'
        ? html` <form method="post" action="${formsAt(v)}/revoke"><input type="hidden" name="integration" value="${r.name}"><input type="hidden" name="csrf" value="${v.csrf}"><button type="submit">Revoke</button></form>`
        : '';
    const hook = r.webhookUrl && c?.state !== 'revoked' ? html`<br><small>Webhook URL: <code>${r.webhookUrl}</code></small>` : '';
    return html`<tr><td><strong>${r.title}</strong><br><small>${r.name}</small></td><td class="state ${state}">${state.replace('_', ' ')}</td><td>${health(r, v.now)}${account(c)}${hook}${polling(v, c?.id)}${breaker(v, r)}</td><td><a class="button" href="${v.linkUrl(r.name)}">${c && c.state !== 'revoked' ? 'Re-link' : 'Link'}</a>${revoke}</td></tr>\n`;
  });
  return html`<table><thead><tr><th>Integration</th><th>State</th><th>Health</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * The account a live connection linked and the values its link learned for the API base (a Jira
 * cloud id, a Salesforce instance URL): which site the user's calls go to, which tells two sites
 * apart. Escaped like all the page's text: the provider chose them.
 */
function account(c: Connection | undefined): Html | '' {
  if (c === undefined || c.state === 'revoked') return '';
  // Rows built before a connection carried these (and partial ones in views) show nothing of them.
  const id = c.accountId ?? undefined;
  const values = Object.entries(c.apiValues ?? {});
  if (id === undefined && values.length === 0) return '';
  const parts = [...(id === undefined ? [] : [html`account <code>${id}</code>`]), ...values.map(([name, value]) => html`${name} <code>${value}</code>`)];
  return html`<br><small class="account">Linked ${parts.map((p, i) => (i === 0 ? p : html`, ${p}`))}</small>`;
}

/** "Polling events: every 2 min, last poll 40 s ago" — or why it is stalled, which is never shown as fine. */
function polling(v: ConnectView, connectionId: string | undefined): Html | '' {
  const lines = (v.pollers ?? []).filter((p) => p.connectionId === connectionId);
  return html`${lines.map((p) => {
    const last = p.lastPollAt === null ? 'not polled yet' : `last poll ${ago(v.now - p.lastPollAt)} ago`;
    const text = p.state === 'stalled' ? `stalled: ${p.reason ?? ''}` : p.intervalMs === 0 ? 'first poll due' : `every ${ago(p.intervalMs)}, ${last}`;
    return html`<br><small class="poll ${p.state}">Polling ${p.feed}: ${text}</small>`;
  })}`;
}

/** A row's line while its integration's circuit is not closed. */
function breaker(v: ConnectView, r: IntegrationStatus): Html | '' {
  const b = v.breakers?.find((x) => x.integration === r.name);
  return b === undefined || b.state === 'closed' ? '' : html`<br><small class="breaker ${b.state}">${pausedLine(b, r.title, v.now)}</small>`;
}

/** Integrations called with a key from config have no row (nothing to link); their paused writes are still this user's. */
function pausedElsewhere(v: ConnectView): Html | '' {
  const rows = new Set(v.rows.map((r) => r.name));
  const lines = (v.breakers ?? []).filter((b) => b.state !== 'closed' && !rows.has(b.integration));
  return lines.length === 0 ? '' : html`${lines.map((b) => html`<p class="breaker ${b.state}">${pausedLine(b, b.integration, v.now)}</p>`)}`;
}

/** "Writes to X are paused: … they are retried at … (in 25 s)." */
function pausedLine(b: BreakerSnapshot, title: string, now: number): string {
  const when =
    b.state === 'open' && b.retryAt !== undefined
      ? `retried at ${new Date(b.retryAt).toISOString()} (in ${ago(b.retryAt - now)})`
      : 'retried now, one first; the rest follow when it succeeds';
  return `Writes to ${title} are paused: it failed ${b.failures} time(s) in a row (5xx answers, timeouts or network errors). They wait in the queue and are ${when}.`;
}

function health(r: IntegrationStatus, now: number): string {
  const c = r.connection;
  if (!c) return 'Not linked.';
  if (c.state !== 'active') return c.reason ?? '';
  const refreshed = c.lastRefreshAt ? `; token refreshed ${ago(now - c.lastRefreshAt)} ago` : '';
  const access = c.accessExpiresAt
    ? `; access token ${c.accessExpiresAt > now ? `valid for ${ago(c.accessExpiresAt - now)}` : 'expired, refreshed on next use'}`
    : '';
  const failures = c.refreshFailures ? `; ${c.refreshFailures} failed refresh attempt(s)` : '';
  return `Linked ${ago(now - c.createdAt)} ago${refreshed}${access}${failures}.`;
}

/** The page states what happened in its own words: query text is never shown, so a link cannot put words in its mouth. */
export function noticeFor(revoked: unknown, confirmed: unknown): Html | '' {
  if (typeof revoked !== 'string' || !/^[A-Za-z0-9_-]{1,48}$/.test(revoked)) return '';
  const tail =
    confirmed === 'no'
      ? ' The provider did not confirm the revocation; the hub has forgotten the tokens anyway.'
      : confirmed === 'unasked'
        ? ' The provider was not asked to revoke them (this integration names no revocation endpoint): revoke the app’s access in your account’s settings there; the hub has forgotten the tokens.'
        : '';
  return html`<p class="notice">Revoked ${revoked}.${tail}</p>`;
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

import { html } from '../http/html.js';
import { messagePage, page } from '../http/pages.js';
import { printable } from '../printable.js';

export interface ClientView {
  clientId: string;
  /** As the client registered it: self-declared, so shown next to where it sends the user back. */
  name: string | undefined;
  redirectUri: string;
  scopes: string[];
}

const SCOPE_MEANING: Readonly<Record<string, string>> = {
  mcp: 'use your tools, connections and tasks on this hub, as you',
  offline_access: 'stay signed in (refresh its access)',
  openid: 'know your hub user name',
};

function redirectHost(uri: string): string {
  try {
    const u = new URL(uri);
    // An app's own scheme (cursor://anysphere.cursor-mcp/…, RFC 8252 §7.1) is named with it: its
    // "host" is whatever the app registered, and shown bare it would read as a web site's.
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return u.host ? `${u.protocol}//${u.host}` : `${u.protocol}${u.pathname}`;
    return u.host;
  } catch {
    return uri;
  }
}

/** How many characters of a self-declared name are shown. */
const NAME_SHOWN = 200;

/**
 * A client's self-declared name as the pages show it: such characters written as `\u202e`, and
 * cut. Registration refuses them (registration-policy.ts); a metadata document's name or one
 * registered before comes here too.
 */
export function shownName(name: string): string {
  const visible = printable(name);
  return visible.length > NAME_SHOWN ? `${visible.slice(0, NAME_SHOWN)}…` : visible;
}

/** The headers of every sign-in page, the library's error pages included. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/**
 * Who the app is, as far as the hub can vouch: its self-declared name, the host that serves its
 * metadata document (a Client ID Metadata Document client: its client_id is that URL, which the
 * name cannot fake), and where it sends the user back, with a warning when that is this machine:
 * any program here could listen on a loopback port and pose as the app (MCP 2025-11-25, security
 * considerations of client ID metadata documents).
 */
function about(client: ClientView) {
  const documentHost = client.clientId.startsWith('https://') ? URL.parse(client.clientId)?.host : undefined;
  const described = documentHost
    ? html`<tr><th>Described by</th><td><code>${documentHost}</code> <small>(where its metadata is published)</small></td></tr>`
    : '';
  const local = isLoopback(client.redirectUri)
    ? html`<p class="notice">This app sends you back to a program on this computer: allow it only if you started it yourself just now.</p>`
    : '';
  return html`<table>
<tr><th>App</th><td>${client.name === undefined ? client.clientId : shownName(client.name)} <small>(as it calls itself)</small></td></tr>
${described}<tr><th>Sends you back to</th><td><code>${redirectHost(client.redirectUri)}</code></td></tr>
</table>${local}`;
}

function isLoopback(uri: string): boolean {
  const host = URL.parse(uri)
    ?.hostname.replace(/^\[|\]$/g, '')
    .toLowerCase();
  return host !== undefined && (host === 'localhost' || host === '::1' || /^127\./.test(host));
}

/** Where a page's form posts, and its CSRF token. */
export interface FormTarget {
  action: string;
  csrf: string;
}

export function signInPage(client: ClientView, form: FormTarget, error?: string): string {
  const fail = error ? html`<p class="notice fail">${error}</p>` : '';
  return page(
    'Sign in to Switchboard',
    html`${about(client)}
<p>Sign in with the one-time sign-in link the hub's operator gave you
(<code>switchboard users invite NAME</code>), or with a hub API token
(<code>switchboard tokens create --user NAME</code>). The app never sees either.</p>
${fail}
<form method="post" action="${form.action}">
<input type="hidden" name="csrf" value="${form.csrf}">
<p><label>Sign-in link or hub token <input type="password" name="token" autocomplete="off" required size="50"></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

export function consentPage(client: ClientView, who: { tenant: string; user: string }, form: FormTarget): string {
  // Only what a token will carry: a scope the hub does not know is not granted, so not listed.
  const granted = client.scopes.filter((s) => SCOPE_MEANING[s] !== undefined);
  const scopes = (granted.length ? granted : ['mcp']).map((s) => html`<li><code>${s}</code>: ${SCOPE_MEANING[s]}</li>`);
  return page(
    'Allow access?',
    html`${about(client)}
<p>Signed in as <b>${who.user}</b>${who.tenant === 'default' ? '' : html` (tenant ${who.tenant})`}. The app asks to:</p>
<ul>${scopes}</ul>
<form method="post" action="${form.action}">
<input type="hidden" name="csrf" value="${form.csrf}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<form method="post" action="${form.action}">
<input type="hidden" name="csrf" value="${form.csrf}">
<p>Not ${who.user}? <button type="submit" name="decision" value="switch">Sign in as someone else</button></p>
</form>`,
  );
}

export function failurePage(message: string): string {
  return messagePage('Sign-in failed', message, { failure: true });
}

/** What opening a sign-in link shows: it is used on the sign-in page an app opens, not here. */
export function invitePage(): string {
  return messagePage(
    'Your sign-in link',
    'This link signs you in once. Connect your app to the hub (its MCP URL ends in /mcp); when the app opens the hub’s sign-in page, paste this whole link, from the address bar, into it.',
  );
}

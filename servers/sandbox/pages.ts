import { html, type Html, type HtmlValue } from '../../src/http/html.js';

/**
 * Server-rendered pages of the authorization endpoint: plain HTML forms, no JavaScript, built with
 * the hub's auto-escaping template (every interpolated value is text unless it is html`…` itself).
 */

export const SCOPE_TEXT: Readonly<Record<string, string>> = {
  read: 'Read your profile and tickets',
  write: 'Create, change and delete your tickets',
};

/**
 * No scripts or frames: the consent page must not be framed (RFC 6819 §4.4.1.9, clickjacking).
 * form-action is left open because browsers apply it to the redirect that follows the post.
 */
export const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  // Not no-referrer: under that policy browsers send `Origin: null` with the form post (Fetch
  // §3.2.5), which the Origin check would refuse. same-origin still keeps the page's URL from the client.
  'Referrer-Policy': 'same-origin',
} as const;

function layout(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Sandbox</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }
  h1 { font-size: 1.4rem; } .box { border: 1px solid #d0d7de; border-radius: 8px; padding: 1.25rem; }
  label, input { display: block; width: 100%; box-sizing: border-box; } input { padding: .5rem; margin: .25rem 0 1rem; }
  .actions { display: flex; gap: .75rem; } button { padding: .5rem 1.25rem; font-size: 1rem; }
  .error { color: #cf222e; } code { background: #f6f8fa; padding: 0 .25rem; }
</style>
</head>
<body>
${body}
</body>
</html>
`.toString();
}

export interface ConsentView {
  /** Absolute path of POST /oauth/authorize. */
  action: string;
  clientName: string;
  scopes: readonly string[];
  interaction: string;
  username?: string;
  error?: string;
}

export function consentPage(v: ConsentView): string {
  const scopes: HtmlValue = v.scopes.map((s) => html`<li><code>${s}</code> — ${SCOPE_TEXT[s] ?? s}</li>\n`);
  const error = v.error ? html`<p class="error" role="alert">${v.error}</p>` : '';
  return layout(
    'Authorize',
    html`<div class="box">
<h1>Sign in to Sandbox</h1>
<p><strong>${v.clientName}</strong> asks for access to your Sandbox account:</p>
<ul>
${scopes}</ul>
${error}
<form method="post" action="${v.action}">
<input type="hidden" name="interaction" value="${v.interaction}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${v.username ?? ''}">
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
</div>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, html`<div class="box">\n<h1>${title}</h1>\n<p>${message}</p>\n</div>`);
}

/** Server-rendered pages of the authorization endpoint: plain HTML forms, no JavaScript. */

export const SCOPE_TEXT: Readonly<Record<string, string>> = {
  read: 'Read your profile and tickets',
  write: 'Create, change and delete your tickets',
};

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Every interpolated value passes through here; none of them is trusted markup. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

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

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Sandbox</title>
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
`;
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
  const scopes = v.scopes.map((s) => `<li><code>${escapeHtml(s)}</code> — ${escapeHtml(SCOPE_TEXT[s] ?? s)}</li>`).join('\n');
  const error = v.error ? `<p class="error" role="alert">${escapeHtml(v.error)}</p>` : '';
  return layout(
    'Authorize',
    `<div class="box">
<h1>Sign in to Sandbox</h1>
<p><strong>${escapeHtml(v.clientName)}</strong> asks for access to your Sandbox account:</p>
<ul>
${scopes}
</ul>
${error}
<form method="post" action="${escapeHtml(v.action)}">
<input type="hidden" name="interaction" value="${escapeHtml(v.interaction)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" value="${escapeHtml(v.username ?? '')}">
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
</div>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<div class="box">\n<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>\n</div>`);
}

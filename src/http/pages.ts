import { html, trustedHtml, type Html, type HtmlValue } from './html.js';

/** Server-rendered pages: plain HTML and a little CSS, so they work without client-side JavaScript. */
const STYLE = trustedHtml(`body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%}td,th{padding:.5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.state{font-weight:600}.active{color:#1a7f37}.needs_reauth,.error{color:#b35900}.revoked,.unlinked{color:#6e6e73}
.notice{padding:.75rem 1rem;border-radius:.5rem;background:#f2f2f7}.fail{background:#fde8e8}
button,.button{font:inherit;padding:.3rem .8rem;border:1px solid #888;border-radius:.4rem;background:#fff;color:inherit;text-decoration:none;cursor:pointer}
form{display:inline}small{color:#6e6e73}`);

export function page(title: string, body: HtmlValue): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${title} · Switchboard</title><style>${STYLE}</style></head>
<body><h1>${title}</h1>
${body}
</body></html>`.toString();
}

/** `next` says what the reader can do about it, under the notice. */
export function messagePage(title: string, message: string | Html, opts: { failure?: boolean; code?: string; next?: string | Html } = {}): string {
  const next = opts.next === undefined ? '' : html`<p>${opts.next}</p>`;
  const code = opts.code ? html`<p><small>Error code: <code>${opts.code}</code></small></p>` : '';
  return page(title, html`<p class="notice${opts.failure ? ' fail' : ''}">${message}</p>${next}${code}`);
}

/** Headers for every page: no caching of pages that carry links, no framing, no scripts. */
export const PAGE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: under it browsers send `Origin: null` with form posts, which the Origin check refuses.
  // same-origin still keeps links (which carry signed tokens) out of other sites' Referer.
  'Referrer-Policy': 'same-origin',
};

/** The auto-escaping template that builds every hub and sandbox page. */
import { describe, expect, it } from 'vitest';
import { html, trustedHtml } from '../../src/http/html.js';
import { messagePage } from '../../src/http/pages.js';
import { errorPage } from '../../servers/sandbox/pages.js';

const HOSTILE = `<script>alert('x')</script> & "quoted"`;
const ESCAPED = '&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;';

describe('html`…`', () => {
  it('escapes every interpolation: text, numbers, and the items of lists', () => {
    expect(html`<p title="${HOSTILE}">${HOSTILE} ${42} ${[HOSTILE, 'b']}</p>`.toString()).toBe(`<p title="${ESCAPED}">${ESCAPED} 42 ${ESCAPED}b</p>`);
  });

  it('inserts nested templates and explicitly trusted markup as they are, and nothing for null, undefined or false', () => {
    const inner = html`<b>${HOSTILE}</b>`;
    expect(html`<div>${inner}${trustedHtml('<hr>')}${null}${undefined}${false}</div>`.toString()).toBe(`<div><b>${ESCAPED}</b><hr></div>`);
  });

  it('a string that looks like markup is still text', () => {
    const lookalike = '<b>bold</b>';
    expect(html`${lookalike}`.toString()).toBe('&lt;b&gt;bold&lt;/b&gt;');
  });

  it("the hub's and the sandbox's pages escape what they are given", () => {
    const hub = messagePage(HOSTILE, HOSTILE, { failure: true, code: 'oauth_flow_failed' });
    expect(hub).not.toContain('<script>');
    expect(hub).toContain(`<title>${ESCAPED} · Switchboard</title>`);
    expect(hub).toContain(`<p class="notice fail">${ESCAPED}</p><p><small>Error code: <code>oauth_flow_failed</code></small></p>`);
    const sandbox = errorPage(HOSTILE, HOSTILE);
    expect(sandbox).not.toContain('<script>');
    expect(sandbox).toContain(`<h1>${ESCAPED}</h1>\n<p>${ESCAPED}</p>`);
  });
});

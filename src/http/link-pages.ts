import { html } from './html.js';
import { page } from './pages.js';

/** Who a link was made for, as the pages name them. */
export interface LinkParties {
  tenant: string;
  user: string;
  /** The integration's title, e.g. "GitHub". */
  title: string;
}

/** "alice", or "alice (tenant acme)" when the hub serves more than the default tenant. */
function hubUser(p: LinkParties) {
  return p.tenant === 'default' ? html`<strong>${p.user}</strong>` : html`<strong>${p.user}</strong> (tenant <strong>${p.tenant}</strong>)`;
}

export interface ConfirmView extends LinkParties {
  /** Where the form posts: this very start route. */
  action: string;
  link: string;
  csrf: string;
}

/**
 * The step between a link and the provider. Whoever opens a link chooses the provider account, and
 * the link decides which hub user gets it: the page says plainly which hub user that is, so someone
 * who was sent another person's link can see it before signing in (issue 7 item 8).
 */
export function confirmPage(v: ConfirmView): string {
  return page(
    `Link ${v.title} to ${v.user}?`,
    html`<p>This link connects a <strong>${v.title}</strong> account to the Switchboard user ${hubUser(v)}.
Whatever ${v.title} account you sign in to next is then used by that user's MCP clients.</p>
<p class="notice">Continue only if you are ${hubUser(v)}, or asked for this link yourself. If someone else sent it to you, close this tab.</p>
<form method="post" action="${v.action}">
<input type="hidden" name="link" value="${v.link}">
<input type="hidden" name="csrf" value="${v.csrf}">
<button type="submit">Continue to ${v.title}</button>
</form>`,
  );
}

export function linkedPage(p: LinkParties): string {
  return page(
    `${p.title} is linked`,
    html`<p class="notice">Your ${p.title} account is linked to the Switchboard user ${hubUser(p)}. You can close this tab and go back to your client; its tools work now.</p>`,
  );
}

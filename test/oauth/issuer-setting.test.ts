/**
 * A custom integration without `oauth.issuer` expects the authorize URL's origin in the callback's
 * `iss` (RFC 9207). An authorization server whose issuer has a path sends that instead — Keycloak
 * sends `https://kc.example/realms/acme` on every authorization response — and the link fails. The
 * page and the log say which setting to change, with the issuer received and the one expected; set
 * to the server's issuer, the link works. The server here is oidc-provider, whose callback's `iss`
 * is rewritten to a Keycloak realm's issuer on its way back, as such a server would send it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import type { RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { startOidcHub } from './support.js';

const ALICE = { tenant: 'default', user: 'alice', scopes: [] };

/** The page's text as the browser shows it. */
const shown = (html: string) =>
  html
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

describe('the issuer a custom integration expects', () => {
  let oidc: OidcServer;
  let realm: string;
  let hub: RunningHub | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    realm = `${oidc.issuer}/realms/acme`;
  });
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    lines.length = 0;
  });
  afterAll(async () => {
    await oidc?.close();
  });

  /** A hub whose acme integration has `issuer` as given (absent: unset), and a callback that comes back naming the realm. */
  async function linkFromRealm(issuer: string | undefined): Promise<{ status: number; html: string }> {
    const acme = oidc.integration() as { oauth: Record<string, unknown> };
    const { issuer: _default, ...oauth } = acme.oauth;
    hub = await startOidcHub(
      oidc,
      { integrations: { acme: { ...acme, oauth: issuer === undefined ? oauth : { ...oauth, issuer } } } },
      { log: capturedLogger(lines, 'info') },
    );
    const browser = new Browser();
    const callback = new URL(await browser.authorize(hub.hub.integrations.accounts.linkUrl(ALICE, 'acme'), { login: 'alice@acme' }));
    callback.searchParams.set('iss', realm);
    const res = await browser.get(callback.href);
    return { status: res.status, html: await res.text() };
  }

  it('unset, it is the authorize URL origin, and a callback from an issuer with a path is refused naming the setting', async () => {
    const r = await linkFromRealm(undefined);
    expect(r.status, r.html).toBe(400);
    const why =
      `the authorization came back from an unexpected issuer (${realm}); the hub expects ${oidc.issuer}, the authorize URL's origin, as ` +
      `integrations.acme.oauth.issuer is not set. If ${realm} is the issuer of the authorization server configured for Acme, set integrations.acme.oauth.issuer to it`;
    expect(shown(r.html)).toContain(why);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'linking failed');
    expect(logged).toEqual([expect.objectContaining({ level: 40, code: 'oauth_flow_failed', integration: 'acme', why })]);
    expect(await hub!.hub.integrations.accounts.connections.list({})).toEqual([]);
  });

  it("set to the server's issuer, the same callback links the account", async () => {
    const r = await linkFromRealm(realm);
    expect(r.status, r.html).toBe(200);
    expect(r.html).toContain('Acme is linked');
    expect(await hub!.hub.integrations.accounts.connections.list({})).toEqual([expect.objectContaining({ integration: 'acme', state: 'active' })]);
  });
});

/**
 * A refresh whose answer never arrives (the connection drops after the provider rotated the
 * token) is retried — the only way to recover if the provider had not acted — and when the
 * provider then refuses the spent token, the connection says why instead of failing silently.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import type { OidcServer } from '../fakes/oidc.js';
import { textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, linkIn, linkWithBrowser, useOidcHub } from './support.js';

describe('a refresh answer lost on the way back', () => {
  const clock = manualClock(Date.now());
  const env = useOidcHub({ clock });
  let oidc: OidcServer;
  let hub: RunningHub;
  let client: FaceClient;
  beforeAll(() => {
    ({ oidc, hub, client } = env);
  });

  it('ends needs_reauth with a reason that names the failed attempt, and answers with a link', async () => {
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    let dropped = 0;
    oidc.dropTokenAnswer = (grantType) => grantType === 'refresh_token' && dropped++ === 0;
    clock.advance(3600_000 + 1);
    const r = await client.callTool(TOOL, {});
    oidc.dropTokenAnswer = undefined;

    // The first answer was lost after the rotation; the retry presented the spent token.
    expect(oidc.tokenRequests('refresh_token')).toBe(2);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('needs to be linked again');
    expect(textOf(r)).toContain('after an earlier refresh attempt failed without a clear answer');
    expect(linkIn(r)).toContain(`http://127.0.0.1:${hub.port}/oauth/acme/start?link=`);
    expect(await hub.hub.integrations.accounts.connections.find('default', 'alice', 'acme')).toMatchObject({
      state: 'needs_reauth',
      reason: expect.stringContaining('failed without a clear answer (the provider may have rotated the token then); link the account again'),
      refreshOwner: null,
    });

    // Linking again recovers.
    await linkWithBrowser(new Browser(), linkIn(r), 'alice@acme');
    const ok = await client.callTool(TOOL, {});
    expect(ok.isError, textOf(ok)).toBe(false);
  });

  it('remembers across calls that the refresh token may be spent when every attempt failed', async () => {
    // Continues from the re-linked connection above.
    const before = oidc.tokenRequests('refresh_token');
    oidc.dropTokenAnswer = (grantType) => grantType === 'refresh_token';
    clock.advance(3600_000 + 1);
    const failed = await client.callTool(TOOL, {});
    oidc.dropTokenAnswer = undefined;
    expect(oidc.tokenRequests('refresh_token') - before).toBe(3);
    // The access token has expired and no refresh got through: this call fails, the connection stays.
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toMatch(/could not refresh the acme token: .*; try again shortly/);
    const c = await hub.hub.integrations.accounts.connections.find('default', 'alice', 'acme');
    expect(c).toMatchObject({ state: 'active', refreshOwner: null, refreshFailures: 1 });
    expect(c?.refreshStartedAt).not.toBeNull();

    // The next call refreshes with the (spent) token; the provider refuses, and the reason says why.
    const r = await client.callTool(TOOL, {});
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('after an earlier refresh was interrupted before its result was saved');
    expect(linkIn(r)).toContain('/oauth/acme/start?link=');
    expect((await hub.hub.integrations.accounts.connections.find('default', 'alice', 'acme'))?.state).toBe('needs_reauth');
  });
});

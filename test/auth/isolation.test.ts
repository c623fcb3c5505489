/**
 * An OAuth-issued token carries the hub identity that signed in, so every per-user rule applies
 * unchanged: two users' tokens each reach only their own linked account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, linkIn, linkWithBrowser, startOidcHub } from '../oauth/support.js';
import { obtainTokens } from './support.js';

describe("two users' OAuth tokens", () => {
  let oidc: OidcServer;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  beforeAll(async () => {
    oidc = await startOidcServer();
    hub = await startOidcHub(oidc);
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await hub?.stop();
    await oidc?.close();
  });

  async function signedIn(user: string): Promise<FaceClient> {
    const base = `http://127.0.0.1:${hub.port}`;
    const { tokens } = await obtainTokens(base, (await hub.hub.tokens.create({ user })).token);
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: tokens.access_token });
    clients.push(c);
    return c;
  }

  it('each reach only their own connection: alice links hers; bob, signed in through OAuth too, is still asked to link', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');

    const unlinked = await alice.callTool(TOOL, {});
    expect(unlinked.isError).toBe(true);
    // The link names the identity the OAuth token carries.
    await linkWithBrowser(new Browser(), linkIn(unlinked), 'alice@acme');
    expect((await hub.hub.integrations.accounts.connections.find('default', 'alice', 'acme'))?.state).toBe('active');

    const mine = await alice.callTool(TOOL, {});
    expect(mine.isError, textOf(mine)).toBe(false);
    expect(mine.structuredContent).toMatchObject({ account: 'alice@acme' });

    const theirs = await bob.callTool(TOOL, {});
    expect(theirs.isError).toBe(true);
    expect(textOf(theirs)).toContain('Link your Acme account');
    expect(await hub.hub.integrations.accounts.connections.find('default', 'bob', 'acme')).toBeUndefined();
    // Both listed the same tools: what differs is whose account a call reaches.
    expect((await alice.listPage()).tools.map((t) => t.name)).toEqual((await bob.listPage()).tools.map((t) => t.name));
  });
});

/**
 * Issue 13, acceptance 1: three replicas on one PostgreSQL database share a linked account whose
 * access token has expired. 50 concurrent calls spread over the replicas by the balancer make
 * exactly one refresh reach the authorization server, which rotates refresh tokens and revokes the
 * whole grant when a spent one is presented again (oidc-provider, RFC 9700 §4.14.2): a second
 * refresh from another replica would turn every call after it into a failure.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { linkIn, linkWithBrowser, TOOL } from '../oauth/support.js';
import { type Cluster, describeCluster, hitsByReplica, startCluster } from '../replicas/cluster.js';

describeCluster('three replicas, one expired token', () => {
  let oidc: OidcServer;
  let cluster: Cluster;
  let client: FaceClient;

  beforeAll(async () => {
    oidc = await startOidcServer();
    cluster = await startCluster({ config: { integrations: { acme: oidc.integration() } } });
    await oidc.allowRedirectUri(`${cluster.url}/oauth/callback`);
    client = await connectClient('v2-auto', { transport: 'http', url: cluster.mcpUrl, token: await cluster.token('alice') });
  }, 180_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await cluster?.close();
    await oidc?.close();
  });

  it('50 concurrent calls over three replicas: one refresh reaches the server, all 50 succeed', { timeout: 60_000 }, async () => {
    // Linked through the balancer: the link, the sign-in and the callback may each land on another replica.
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    expect((await client.callTool(TOOL, {})).isError).toBe(false);
    const [row] = await cluster.query<{ id: string; token_version: number }>('SELECT id, token_version FROM connections');
    // The provider still accepts the token: only the hub's view of it expires, so every call must refresh first.
    await cluster.query('UPDATE connections SET access_expires_at = 1 WHERE id = $1', [row!.id]);
    const refreshesBefore = oidc.tokenRequests('refresh_token');
    const hitsBefore = hitsByReplica(cluster);

    const results = await Promise.all(Array.from({ length: 50 }, () => client.callTool(TOOL, {})));

    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    expect(oidc.tokenRequests('refresh_token') - refreshesBefore).toBe(1);
    const refreshed = oidc.issued.at(-1)!;
    expect(refreshed.grantType).toBe('refresh_token');
    // Every call reached the API with the one new access token (none with the old one, none refused).
    expect(oidc.apiCalls.slice(-50).map((c) => [c.status, c.token === refreshed.accessToken])).toEqual(Array(50).fill([200, true]));
    // Spread: each replica took its share of the 50 (round robin, so about 17 each).
    const spread = hitsByReplica(cluster).map((h, i) => h - hitsBefore[i]!);
    expect(spread.every((h) => h >= 10)).toBe(true);
    const [after] = await cluster.query<Record<string, unknown>>(
      'SELECT state, token_version, refresh_owner, access_expires_at FROM connections WHERE id = $1',
      [row!.id],
    );
    expect(after).toMatchObject({ state: 'active', token_version: row!.token_version + 1, refresh_owner: null });
    expect(Number(after!['access_expires_at'])).toBeGreaterThan(Date.now());
  });
});

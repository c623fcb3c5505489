/**
 * Issue 13, acceptance 4: an account linked through one replica changes its user's tool list on
 * every replica, and `notifications/tools/list_changed` reaches that user's clients connected to
 * the others — a 2025-era client on its session stream and a 2026-era client on its
 * subscriptions/listen stream. Bob, connected to the same replicas, hears nothing of alice's link.
 * Two paths carry the change between replicas: the Redis fan-out at once, and each replica's
 * watch on the connections table every 2 s (src/integrations/watch.ts), so this passes with Redis
 * left out too (checked with `withoutRedis`); what it proves is that the change crosses replicas.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import { linkIn, TOOL } from '../oauth/support.js';
import { type Cluster, clientsOnReplicas, describeCluster, type ReplicaClient, startCluster } from '../replicas/cluster.js';

/** The same URL on a replica directly, not through the balancer the hub names in its links. */
function onReplica(url: string, base: string): string {
  const u = new URL(url);
  const b = new URL(base);
  u.host = b.host;
  return u.toString();
}

describeCluster('three replicas, a link on one of them', () => {
  let oidc: OidcServer;
  let cluster: Cluster;
  const listeners: ReplicaClient[] = [];
  let linking: FaceClient;

  beforeAll(async () => {
    oidc = await startOidcServer();
    cluster = await startCluster({ config: { integrations: { acme: oidc.integration() } } });
    await oidc.allowRedirectUri(`${cluster.url}/oauth/callback`);
    const tokens = { alice: await cluster.token('alice'), bob: await cluster.token('bob') };
    linking = await connectClient('v2-auto', { transport: 'http', url: `${cluster.replicas[0]!.base}/mcp`, token: tokens.alice });
    listeners.push(...(await clientsOnReplicas(cluster, [1, 2], tokens)));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([linking, ...listeners.map((l) => l.client)].map((c) => c?.close().catch(() => {})));
    await cluster?.close();
    await oidc?.close();
  });

  it("reaches alice's 2025 and 2026 clients on the other two replicas, and none of bob's", async () => {
    const replica0 = cluster.replicas[0]!.base;
    const before = listeners.map((l) => l.client.toolListChanges);
    // Every step of the link on replica 0 alone: the start page, and the provider's redirect back.
    const browser = new Browser();
    const callback = await browser.authorize(onReplica(linkIn(await linking.callTool(TOOL, {})), replica0), { login: 'alice@acme' });
    const page = await browser.get(onReplica(callback, replica0));
    expect(page.status, await page.text()).toBe(200);

    const changed = () => listeners.map((l, i) => ({ user: l.user, kind: l.kind, replica: l.replica, changed: l.client.toolListChanges > before[i]! }));
    await eventually(() => changed().every((c) => c.user !== 'alice' || c.changed), 10_000);
    // Bob's streams are the same kind on the same replicas: a round trip on each after alice's
    // notifications arrived, and still nothing for him.
    for (const l of listeners.filter((x) => x.user === 'bob')) await l.client.listPage();
    expect(changed()).toEqual(listeners.map((l) => ({ user: l.user, kind: l.kind, replica: l.replica, changed: l.user === 'alice' })));
    // And the change is real on the other replicas: alice's tool works there.
    for (const l of listeners.filter((x) => x.user === 'alice')) expect((await l.client.callTool(TOOL, {})).isError).toBe(false);
  });
});

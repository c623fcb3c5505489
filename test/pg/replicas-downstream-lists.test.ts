import { afterAll, beforeAll, expect, it } from 'vitest';
import { type GrowingServer, startGrowingServer } from '../fixtures/growing-server.js';
import { type FaceClient, textOf, walkTools } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import { type Cluster, clientsOnReplicas, describeCluster, type ReplicaClient, startCluster } from '../replicas/cluster.js';

const names = async (c: FaceClient) => (await walkTools(c)).flat().filter((n) => n.startsWith('w__'));

/**
 * A tool a 2025-era HTTP server (a Server per session) added and announced on one replica's
 * session with it only: that replica tells the others, and each reads the lists again on a fresh
 * session, so every user's clients on every replica are told and see the tool.
 */
describeCluster("a downstream server's tool added on one replica's session", () => {
  let downstream: GrowingServer;
  let cluster: Cluster;
  const watchers: ReplicaClient[] = [];

  beforeAll(async () => {
    downstream = await startGrowingServer();
    cluster = await startCluster({ replicas: 2, config: { mcpServers: { w: { url: downstream.url } } } });
    const tokens = { alice: await cluster.token('alice'), bob: await cluster.token('bob') };
    watchers.push(...(await clientsOnReplicas(cluster, [0, 1], tokens)));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(watchers.map((w) => w.client.close().catch(() => {})));
    await cluster?.close();
    downstream?.close();
  });

  it("is listed to every user's 2025 and 2026 clients on both replicas, who are told", async () => {
    for (const w of watchers) expect(await names(w.client)).toEqual(['w__grow']);
    const before = watchers.map((w) => w.client.toolListChanges);
    // Alice's 2025 client on replica 0: the call goes over her own session with the server, which announces the tool there.
    const alice = watchers.find((w) => w.user === 'alice' && w.kind === 'v2-legacy' && w.replica === 0)!;
    expect(textOf(await alice.client.callTool('w__grow', {}))).toBe('grown1');

    for (const [i, w] of watchers.entries()) {
      await eventually(() => w.client.toolListChanges > before[i]! || undefined, 15_000).catch(() => {
        throw new Error(`${w.user}'s ${w.kind} client on replica ${w.replica} was not told`);
      });
      expect(await names(w.client), `${w.user}'s ${w.kind} client on replica ${w.replica}`).toEqual(['w__grow', 'w__grown1']);
    }
    const bobOn1 = watchers.find((w) => w.user === 'bob' && w.kind === 'v2-legacy' && w.replica === 1)!;
    expect(textOf(await bobOn1.client.callTool('w__grown1', {}))).toBe('grown1 ok');
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { eventually } from '../helpers/hub.js';
import { type Cluster, describeCluster, startCluster } from '../replicas/cluster.js';

/**
 * A downstream 2025-era HTTP server's resource, subscribed to by one user's clients on two
 * replicas: each replica subscribes on its own session with the server, which tells each
 * subscribed session of a change. One change reaches each client once, not once per replica
 * (each replica's own word and then the other's over Redis).
 */
const URI = 'res://counter';

function counterServer(): Promise<{ url: string; server: Server }> {
  let n = 0;
  const subscribed = new Set<McpServer>();
  const build = () => {
    const s = new McpServer({ name: 'res', version: '1.0.0' }, { capabilities: { resources: { subscribe: true } } });
    s.registerResource('counter', URI, {}, async () => ({ contents: [{ uri: URI, text: String(n) }] }));
    s.server.setRequestHandler(SubscribeRequestSchema, async () => {
      subscribed.add(s);
      return {};
    });
    s.server.setRequestHandler(UnsubscribeRequestSchema, async () => {
      subscribed.delete(s);
      return {};
    });
    s.registerTool('bump', { description: 'Changes the counter' }, async () => {
      n++;
      for (const x of subscribed) await x.server.sendResourceUpdated({ uri: URI }).catch(() => {});
      return { content: [{ type: 'text', text: String(n) }] };
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

describeCluster("a downstream server's resource update with two replicas", () => {
  let downstream: { url: string; server: Server };
  let cluster: Cluster;
  const clients: Client[] = [];

  beforeAll(async () => {
    downstream = await counterServer();
    cluster = await startCluster({ replicas: 2, config: { mcpServers: { res: { url: downstream.url } } } });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await cluster?.close();
    downstream?.server.closeAllConnections();
    downstream?.server.close();
  });

  it("reaches each of the user's subscribed clients once, whichever replica it is on", async () => {
    const token = await cluster.token('alice');
    const heard = [0, 0];
    for (const [i, replica] of cluster.replicas.entries()) {
      const client = new Client({ name: `alice-${i}`, version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
      client.setNotificationHandler('notifications/resources/updated', (n) => {
        if (n.params.uri === URI) heard[i]!++;
      });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${replica.base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
      );
      clients.push(client);
      expect((await client.listResources()).resources.map((r) => r.uri)).toContain(URI);
      await client.subscribeResource({ uri: URI });
    }

    // Two changes, the second after the first reached both: a copy of the first comes before the second's.
    for (const n of [1, 2]) {
      await clients[0]!.callTool({ name: 'res__bump', arguments: {} });
      await eventually(() => heard.every((h) => h >= n) || undefined, 10_000);
    }
    // A copy over Redis takes a round trip or two: a second of quiet shows none is on its way.
    await eventually(() => heard.some((h) => h > 2) || undefined, 1_000).catch(() => {});
    expect(heard).toEqual([2, 2]);
  });
});

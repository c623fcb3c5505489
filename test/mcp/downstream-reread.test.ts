import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrowingServer, startGrowingServer } from '../fixtures/growing-server.js';
import { connectClient, type FaceClient, walkTools } from '../helpers/clients.js';
import { eventually, type RunningHub, startHub } from '../helpers/hub.js';

/**
 * What a replica does when another tells it that its session with a shared 2025-era server read a
 * changed list (src/mcp/http-notices.ts, `server_list_changed`): it reads the lists again on a
 * fresh session, which the server builds from what it holds now, tells its clients of what moved,
 * and ends that session. The change here is made behind every hub session's back, as another
 * replica's session would see it.
 */
describe("a downstream server's lists read again on a fresh session", () => {
  let server: GrowingServer;
  let hub: RunningHub;
  let client: FaceClient;
  const names = async () => (await walkTools(client)).flat();
  const reread = (kind: 'tools' | 'prompts') => hub.hub.catalog.source('w')!.reread!(kind);

  beforeAll(async () => {
    server = await startGrowingServer();
    hub = await startHub({ mcpServers: { w: { url: server.url } } });
    client = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: hub.token });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    server?.close();
  });

  it('shows and announces a tool no session of the hub was told of, and ends the session it read on', async () => {
    expect(await names()).toEqual(['w__grow']);
    const live = server.sessions.size;
    const started = server.started;
    const told = client.toolListChanges;
    server.grow();
    await reread('tools');
    await eventually(() => client.toolListChanges > told || undefined);
    expect(await names()).toEqual(['w__grow', 'w__grown1']);
    expect(server.started).toBe(started + 1);
    await eventually(() => server.sessions.size === live || undefined);
  });

  it('reads once more for all that is asked during a read, and announces nothing that did not move', async () => {
    const started = server.started;
    const told = client.toolListChanges;
    await Promise.all([reread('tools'), reread('tools'), reread('prompts'), reread('tools')]);
    expect(server.started).toBe(started + 2);
    expect(client.toolListChanges).toBe(told);
    expect(await names()).toEqual(['w__grow', 'w__grown1']);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * An HTTP downstream (a 1.x SDK server with sessions, which announces its lists, so the keepalive
 * pings it) that freezes as a stopped process does: its port still accepts, nothing is answered,
 * and what was sent meanwhile is answered once it thaws. The keepalive's pings go unanswered, so
 * the server is shown `restarting` (not `ready` for good), and it is taken back once it answers.
 * Checks every 300 ms here, where the hub's are 30 s apart (a ping then waits 10 s).
 */
const KEEPALIVE_MS = 300;

interface Frozen {
  url: string;
  freeze: () => void;
  thaw: () => void;
  stop: () => void;
}

async function freezable(): Promise<Frozen> {
  let held: Array<() => void> | undefined;
  const build = () => {
    const s = new McpServer({ name: 'freezable', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    s.registerTool('ping', { description: 'Answers at once' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
    return s;
  };
  const handle = sdk1SessionsListener(build);
  const server: Server = createServer((req, res) => {
    if (held) held.push(() => handle(req, res));
    else handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    freeze: () => {
      held = [];
    },
    thaw: () => {
      const late = held ?? [];
      held = undefined;
      for (const go of late) go();
    },
    stop: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

describe('an HTTP downstream that stops answering', () => {
  let hub: RunningHub;
  let server: Frozen;

  beforeAll(async () => {
    server = await freezable();
    hub = await startHub({ mcpServers: { web: { url: server.url } } }, { keepaliveMs: KEEPALIVE_MS, restartBaseMs: 50 });
  });
  afterAll(async () => {
    await hub?.stop();
    server?.stop();
  });

  const web = () =>
    hub.hub.catalog
      .sources()
      .find((s) => s.name === 'web')
      ?.status();

  it('is shown restarting once its checks go unanswered twice, and taken back when it answers again', async () => {
    expect(web()).toMatchObject({ state: 'ready' });
    server.freeze();
    // Two missed checks and a few for the ping's own wait: well under the 10 s a stopped server stayed `ready` for good.
    await eventually(() => web()?.state === 'restarting', 5_000);
    expect(web()?.detail).toContain('not answering: a check got no answer in time');
    server.thaw();
    await eventually(() => web()?.state === 'ready', 10_000);
    const client = new Client({ name: 'caller', version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'legacy' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      const r = (await client.callTool({ name: 'web__ping', arguments: {} })) as CallToolResult;
      expect(r.content).toEqual([{ type: 'text', text: 'pong' }]);
    } finally {
      await client.close();
    }
  }, 20_000);
});

/**
 * A provider that writes its Content-Type in capitals (`Application/JSON`, which RFC 9110 §8.3.1
 * makes the same media type), through a real MCP client against a local API: the answer is read as
 * JSON (structuredContent), and a refusal in its body (`"ok": false`) fails the call as it would in
 * lower case, rather than passing for a success.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { connectMcp, type McpUser } from './mcp.js';

describe('a Content-Type in capitals', () => {
  let api: Server;
  let hub: RunningHub;
  let mcp: McpUser;

  beforeAll(async () => {
    api = createServer((req, res) => {
      req.resume();
      const body = req.url?.endsWith('/conversations.info') ? { ok: false, error: 'channel_not_found' } : { ok: true, channel: { id: 'C1', name: 'general' } };
      res.writeHead(200, { 'content-type': 'Application/JSON; Charset=UTF-8' }).end(JSON.stringify(body));
    }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    hub = await startHub({
      integrations: {
        chat: {
          type: 'custom',
          title: 'Chat',
          auth: { type: 'apiKey', value: 'xoxb-test', prefix: 'Bearer ' },
          apiBaseUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}/api`,
          refusal: { okAt: 'ok', messageAt: 'error' },
          tools: {
            info: { description: 'A channel', method: 'GET', path: '/conversations.info', readOnly: true },
            list: { description: 'Channels', method: 'GET', path: '/conversations.list', readOnly: true },
          },
        },
      },
    });
    mcp = await connectMcp(hub.url, hub.token, { era: 'auto' });
  });
  afterAll(async () => {
    await mcp?.close();
    await hub?.stop();
    api?.closeAllConnections();
    await new Promise<void>((r) => api.close(() => r()));
  });

  it('reads the answer as JSON', async () => {
    const r = await mcp.call('chat__list', {});
    expect(r.isError ?? false).toBe(false);
    expect(r.structuredContent).toEqual({ ok: true, channel: { id: 'C1', name: 'general' } });
  });

  it('fails on a refusal in the body', async () => {
    const r = await mcp.call('chat__info', {});
    expect(r.isError).toBe(true);
    expect(r.content).toEqual([{ type: 'text', text: 'Chat refused GET /conversations.info (channel_not_found): {"ok":false,"error":"channel_not_found"}' }]);
  });
});

/**
 * A 2025-11-25 `tasks/result` blocks until its task finishes. When the hub stops meanwhile, the
 * waiting request is answered `hub_stopping` (JSON-RPC -32000, `data.code`), as a session's calls
 * under way are, where closing the session's streams left the 1.x SDK client with no answer at all.
 * The task is a stream agent's (the sandbox marketplace's writer, a token every 5 s, served from
 * this process), so it is still working when the hub stops.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRoutes } from '../../servers/sandbox/agents.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const KEY = 'ua_result_stopping_key';

describe('tasks/result waiting when the hub stops', () => {
  let market: Server;
  let hub: RunningHub;
  let client: Client;
  let transport: StreamableHTTPClientTransport;

  beforeAll(async () => {
    const app = express();
    app.use('/v1', marketplaceRoutes({ apiKeys: [KEY] }).router);
    market = createServer(app);
    await new Promise<void>((r) => market.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(market.address() as AddressInfo).port}/v1`;
    hub = await startHub({
      agents: {
        writer: { protocol: 'upagents', baseUrl, apiKey: KEY, agentId: 'writer_v2', mode: 'stream', retries: 0, headers: { 'x-sandbox-token-ms': '5000' } },
      },
    });
    client = new Client({ name: 'result-stopping', version: '1.0.0' });
    transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop().catch(() => {});
    market.closeAllConnections();
    await new Promise<void>((r) => market.close(() => r()));
  });

  it('is answered hub_stopping, not left without an answer', async () => {
    const created = await client.request(
      { method: 'tools/call', params: { name: 'agent__writer', arguments: { input: 'a long poem' }, task: { ttl: 3_600_000 } } },
      CreateTaskResultSchema,
    );
    // Sent as the client's own session's request; its event stream's headers arrive once the hub took it.
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId ?? '',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tasks/result', params: { taskId: created.task.taskId } }),
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    await hub.hub.stop();
    const messages = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.length > 6)
      .map((l) => JSON.parse(l.slice(6)) as { id?: number; error?: { code: number; message: string; data?: unknown } });
    const answer = messages.find((m) => m.id === 77);
    expect(answer?.error).toMatchObject({ code: -32000, data: { code: 'hub_stopping' } });
    expect(answer?.error?.message).toMatch(/the hub is stopping/);
  });
});

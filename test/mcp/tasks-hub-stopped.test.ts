/**
 * A stream agent's call run as a task cannot outlive its process: a hub that stops cleanly records
 * it as a failed call reads (README, "Long calls as MCP Tasks"): an isError result naming the tool,
 * "The hub stopped while the task ran" as the status message. A 2025-11-25 client sees `failed`
 * with that message and gets the result from tasks/result; a 2026-07-28 client sees it `completed`
 * with the result inlined — not a JSON-RPC internal error. A real hub on loopback, its agent the
 * sandbox marketplace's writer streaming a token every 5 s (served from this process, as a platform
 * outlives the hub), is stopped mid-stream; a new hub on the same data dir answers for both tasks,
 * to the 1.x SDK client and over fetch. One injected clock: the stop is the tasks' last change.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRoutes } from '../../servers/sandbox/agents.js';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const KEY = 'ua_hub_stopped_key';
const writer = (baseUrl: string) => ({
  writer: { protocol: 'upagents', baseUrl, apiKey: KEY, agentId: 'writer_v2', mode: 'stream', retries: 0, headers: { 'x-sandbox-token-ms': '5000' } },
});
const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
const TEXT = 'The hub stopped while the task ran: agent__writer did not finish. Call it again.';
const ERROR = { code: 'source_crashed', retryable: true };

describe('a stream agent task cut off by a clean stop of the hub', () => {
  const clock = manualClock(T0);
  const hubs: RunningHub[] = [];
  const clients: Client[] = [];
  let dataDir: string | undefined;
  let market: Server;
  let agents: ReturnType<typeof writer>;

  beforeAll(async () => {
    const app = express();
    app.use('/v1', marketplaceRoutes({ apiKeys: [KEY] }).router);
    market = createServer(app);
    await new Promise<void>((r) => market.listen(0, '127.0.0.1', r));
    agents = writer(`http://127.0.0.1:${(market.address() as AddressInfo).port}/v1`);
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const h of hubs) await h.hub.stop().catch(() => {});
    market.closeAllConnections();
    await new Promise<void>((r) => market.close(() => r()));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const v1Client = async (url: string, token: string) => {
    const c = new Client({ name: 'hub-stopped', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(c);
    return c;
  };

  it('reads as the failed call: 2025 failed with the reason and the isError result, 2026 completed with it inlined', async () => {
    const first = await startHub({ agents }, { clock });
    hubs.push(first);
    dataDir = first.dataDir;
    const modernTask = String((await taskClient(first.url, first.token).tool('agent__writer', { input: 'a long poem' }))['taskId']);
    const legacy = await (await v1Client(first.url, first.token)).request(
      { method: 'tools/call', params: { name: 'agent__writer', arguments: { input: 'another long poem' }, task: { ttl: 3_600_000 } } },
      CreateTaskResultSchema,
    );
    const legacyTask = legacy.task.taskId;
    expect(await taskClient(first.url, first.token).ok('tasks/get', { taskId: modernTask })).toMatchObject({ status: 'working' });

    clock.advance(30_000);
    const stoppedAt = new Date(clock.now()).toISOString();
    await first.hub.stop(); // mid-stream: the first token is 5 s away; the data dir stays

    clock.advance(60_000);
    const second = await startHub({ agents }, { clock, dataDir: first.dataDir });
    hubs.push(second);
    const token = (await second.hub.tokens.create({ user: 'alice' })).token;
    const v1 = await v1Client(second.url, token);
    const modern = taskClient(second.url, token);

    for (const taskId of [legacyTask, modernTask]) {
      // 2025-11-25: failed, the reason as the status message; tasks/result is the isError result.
      expect(await v1.experimental.tasks.getTask(taskId)).toMatchObject({ status: 'failed', statusMessage: TEXT, lastUpdatedAt: stoppedAt });
      const result = await v1.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result).toMatchObject({ isError: true, content: [{ type: 'text', text: TEXT }], _meta: { 'switchboard/error': ERROR } });

      // 2026-07-28: completed with the isError result inlined, no JSON-RPC error.
      const got = await modern.ok('tasks/get', { taskId });
      expect(got).toMatchObject({
        status: 'completed',
        statusMessage: TEXT,
        lastUpdatedAt: stoppedAt,
        result: { isError: true, content: [{ type: 'text', text: TEXT }], _meta: { 'switchboard/error': ERROR } },
      });
      expect(got).not.toHaveProperty('error');
    }
  });
});

/**
 * A 2025-11-25 downstream keeps a task for the ttl the hub asks; the hub record lives for the ttl
 * its caller asked (up to 24 h). The hub asked 1 h whatever the caller's, so a task the caller
 * meant to read after that was forgotten downstream, and read failed ("no longer knows this
 * task") once asked. The downstream here is a 1.x SDK server over HTTP whose task says the ttl it
 * was given; the 1.x SDK client over a 2025 session and a 2026-07-28 request on the wire.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTaskMessageQueue, InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TTL_MS, MAX_TTL_MS } from '../../src/mcp/tasks/service.js';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

/** A tool run as a task that works until cancelled, its status message naming the ttl it was asked. */
function build(): McpServer {
  const s = new McpServer(
    { name: 'ttl-fixture', version: '1.0.0' },
    {
      capabilities: { tools: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      taskStore: new InMemoryTaskStore(),
      taskMessageQueue: new InMemoryTaskMessageQueue(),
    },
  );
  s.experimental.tasks.registerToolTask(
    'keep',
    { description: 'Works until cancelled', inputSchema: { label: z.string() }, execution: { taskSupport: 'optional' } },
    {
      createTask: async (_args, extra) => {
        const task = await extra.taskStore.createTask({ ttl: extra.taskRequestedTtl ?? null, pollInterval: 100 });
        await extra.taskStore.updateTaskStatus(task.taskId, 'working', `kept for ${String(extra.taskRequestedTtl)} ms`);
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as { content: [] },
    },
  );
  return s;
}

describe('the ttl a downstream task is kept for', () => {
  let downstream: Server;
  let hub: RunningHub;
  let client: Client | undefined;

  beforeAll(async () => {
    downstream = createServer(sdk1SessionsListener(build));
    await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
    hub = await startHub({ mcpServers: { kt: { url: `http://127.0.0.1:${(downstream.address() as AddressInfo).port}/mcp` } } });
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    downstream.closeAllConnections();
    await new Promise((r) => downstream.close(r));
  });

  it('is the ttl of the hub task: the caller’s within bounds, else the default', async () => {
    client = new Client({ name: 'v1-ttl', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    const ask = async (ttl: number) => {
      const created = await client!.request(
        { method: 'tools/call', params: { name: 'kt__keep', arguments: { label: String(ttl) }, task: { ttl } } },
        CreateTaskResultSchema,
      );
      return created.task;
    };
    const twoHours = await ask(2 * 3_600_000);
    expect(twoHours.ttl).toBe(2 * 3_600_000);
    expect((await client.experimental.tasks.getTask(twoHours.taskId)).statusMessage).toBe(`kept for ${2 * 3_600_000} ms`);
    const tooLong = await ask(30 * 86_400_000);
    expect(tooLong.ttl).toBe(MAX_TTL_MS);
    expect((await client.experimental.tasks.getTask(tooLong.taskId)).statusMessage).toBe(`kept for ${MAX_TTL_MS} ms`);

    // A 2026-07-28 caller names no ttl: the hub's default, on both sides.
    const modern = taskClient(hub.url, hub.token);
    const created = await modern.tool('kt__keep', { label: 'modern' });
    expect(created).toMatchObject({ ttlMs: DEFAULT_TTL_MS });
    expect(await modern.ok('tasks/get', { taskId: String(created['taskId']) })).toMatchObject({ statusMessage: `kept for ${DEFAULT_TTL_MS} ms` });
  });
});

/**
 * A queued write whose provider answer does not fit the tool's declared output schema, run as an
 * MCP Task. The direct call answers it as a tool error naming the mismatch (output-fit.ts); the
 * task held the answer as it came, structuredContent that breaks the schema the tool is listed
 * with, which a 2025 client's SDK turns into a protocol error (the provider's words lost) and a
 * 2026-07-28 client reads as a success. A real hub on loopback, a provider on loopback whose
 * answer lacks a required field, 2026-07-28 requests over fetch and the 1.x SDK over a 2025 session.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient, WITHOUT_TASKS } from './tasks-helpers.js';

const create = {
  description: 'Creates a note',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
  // The provider answers `{ "id": 7 }`: no `applied`.
  output: { type: 'object', properties: { applied: { type: 'boolean' } }, required: ['applied'] },
};

type Result = { content: Array<{ type: string; text: string }>; structuredContent?: unknown; isError?: boolean };

describe('a queued write whose answer does not fit its output schema, as an MCP Task', () => {
  let api: Server;
  let hub: RunningHub;
  const clients: Client[] = [];

  beforeAll(async () => {
    api = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":7}'));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    hub = await startHub({
      integrations: { notes: { type: 'custom', title: 'Notes', apiBaseUrl, auth: { type: 'apiKey', header: 'x-api-key', value: 'k' }, tools: { create } } },
      outbox: { waitMs: 30_000 },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  });

  it('answers the tool error the direct call gives, in either era', async () => {
    const direct = (await taskClient(hub.url, hub.token, WITHOUT_TASKS).tool('notes__create', { text: 'direct' })) as unknown as Result;
    expect(direct).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringContaining("does not fit the tool's output schema") }] });

    // 2026-07-28: completed with the same isError answer inlined, not a success that breaks the schema.
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('notes__create', { text: 'as a task' }))['taskId']);
    const done = await c.until(taskId, ['completed', 'failed', 'cancelled'], 20_000);
    expect(done).toMatchObject({ status: 'completed', result: { isError: true, content: direct.content } });
    expect(done['result']).not.toHaveProperty('structuredContent');

    // 2025-11-25: the SDK's own task stream ends with that answer (failed, as isError is there),
    // where it ended with its own "does not match the tool's output schema" error.
    const client = new Client({ name: 'v1-unfit', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    clients.push(client);
    await client.listTools();
    let id = '';
    const errors: string[] = [];
    for await (const m of client.experimental.tasks.callToolStream({ name: 'notes__create', arguments: { text: 'from v1' } }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    })) {
      if (m.type === 'taskCreated') id = m.task.taskId;
      if (m.type === 'error') errors.push(m.error.message);
    }
    expect(errors.join(' ')).not.toMatch(/does not match the tool's output schema/);
    const result = (await client.experimental.tasks.getTaskResult(id, CallToolResultSchema)) as Result;
    expect(result).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringContaining("does not fit the tool's output schema") }] });
  });
});

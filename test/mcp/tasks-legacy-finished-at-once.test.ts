/**
 * A 2025-11-25 task call whose task is already finished when it is created: a write retried with
 * the caller's idempotency key after the provider refused it is the same job, failed with the
 * call's isError answer. The CreateTaskResult was built from the 2026-07-28 shape, where such an
 * answer reads `completed`, so the task said `completed` at creation and `failed` from tasks/get
 * on (a finished task never changes). A real hub on loopback, a provider on loopback that refuses
 * every write, the 1.x SDK client over a 2025 session.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

const create = {
  description: 'Creates a note',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
};

describe('a 2025-11-25 task call answered by a task already finished', () => {
  let api: Server;
  let hub: RunningHub;
  let client: Client;

  beforeAll(async () => {
    api = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"text is too long"}'));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    hub = await startHub({
      integrations: {
        strict: { type: 'custom', title: 'Strict', apiBaseUrl, auth: { type: 'apiKey', header: 'x-api-key', value: 'k' }, tools: { create } },
      },
      outbox: { waitMs: 30_000 },
    });
    client = new Client({ name: 'v1-finished-at-once', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  });

  const call = () =>
    client.request(
      {
        method: 'tools/call',
        params: { name: 'strict__create', arguments: { text: 'far too long' }, task: { ttl: 60_000 }, _meta: { 'switchboard/idempotency-key': 'note-1' } },
      },
      CreateTaskResultSchema,
    );

  it('is created in the status tasks/get then reads, the one it keeps', async () => {
    const first = (await call()).task;
    await client.request({ method: 'tasks/result', params: { taskId: first.taskId } }, CallToolResultSchema);
    expect(await client.experimental.tasks.getTask(first.taskId)).toMatchObject({ status: 'failed' });

    // The retry with the same key is the same refused job: a task finished from its creation on.
    const again = (await call()).task;
    const read = await client.experimental.tasks.getTask(again.taskId);
    expect(read).toMatchObject({ status: 'failed', statusMessage: expect.stringContaining('text is too long') });
    expect(again).toMatchObject({ status: 'failed', statusMessage: read.statusMessage });
    expect(await client.request({ method: 'tasks/result', params: { taskId: again.taskId } }, CallToolResultSchema)).toMatchObject({ isError: true });
  });
});

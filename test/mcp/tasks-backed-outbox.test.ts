/**
 * Queued writes as MCP Tasks (issue 11): the task's state is the outbox job (one record, not a
 * copy). A real hub on loopback whose integration is the token-bucket API (test/fixtures/
 * bucket-api.ts) paced slowly by the hub, so a write waits its turn; 2026-07-28 requests over fetch
 * and the 1.x SDK client over a 2025 session. What the API saw is read from its own trace.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient, WITHOUT_TASKS } from './tasks-helpers.js';

const create = {
  description: 'Creates a note',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
  output: { type: 'object', properties: { applied: { type: 'boolean' }, key: { type: ['string', 'null'] } }, required: ['applied'] },
  // One at a time, in order: a write waits in `queued` while the one before it is paced.
  ordering: 'connection',
};
const count = { description: 'Counts notes', method: 'GET', path: '/notes', readOnly: true, input: { type: 'object', properties: {} } };

function integration(apiBaseUrl: string, title: string) {
  return {
    type: 'custom',
    title,
    apiBaseUrl,
    auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
    idempotencyHeader: 'Idempotency-Key',
    // One write every two seconds: a write is paced (sending, waiting for a token) long enough to look at it.
    rateLimit: { perApp: { perSecond: 0.5, burst: 1 } },
    tools: { create, count },
  };
}

type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

describe('queued writes as MCP Tasks', () => {
  let api: BucketApi;
  let refusing: Server;
  let hub: RunningHub;
  const v1: Client[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 5, trace: true });
    refusing = createServer((req, res) => {
      req.resume();
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"text is too long"}');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    hub = await startHub({
      integrations: {
        notes: integration(api.url, 'Notes'),
        strict: integration(`http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, 'Strict'),
      },
      outbox: { waitMs: 30_000 },
    });
  });
  afterAll(async () => {
    await Promise.all(v1.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    await api?.close();
    await new Promise<void>((r) => (refusing ? refusing.close(() => r()) : r()));
  });

  const jobOf = (taskId: string): string => {
    const row = hub.hub.db.prepare('SELECT backing_kind AS kind, backing_id AS id FROM mcp_tasks WHERE id = ?').get(taskId) as { kind: string; id: string };
    expect(row.kind).toBe('outbox_job');
    return row.id;
  };
  const sentBodies = () => api.arrivals.map((a) => a.body);
  const connectV1 = async (): Promise<{ client: Client; statuses: string[] }> => {
    const client = new Client({ name: 'v1-write-tasks', version: '1.0.0' });
    const statuses: string[] = [];
    client.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(`${n.params.taskId}:${n.params.status}`));
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    v1.push(client);
    return { client, statuses };
  };

  it('declares task support on queued writes only', async () => {
    const { client } = await connectV1();
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t.execution]));
    expect(tools.get('notes__create')).toEqual({ taskSupport: 'optional' });
    expect(tools.get('notes__count')).toBeUndefined();
    expect(tools.get('queue__job_status')).toBeUndefined();
  });

  it('reports working while paced, then completed with the answer the direct call gives; queue__job_status reads the same job', async () => {
    const c = taskClient(hub.url, hub.token);
    // The direct call first: it takes the bucket's one token and shows what a write answers.
    const direct = (await taskClient(hub.url, hub.token, WITHOUT_TASKS).tool('notes__create', { text: 'direct' })) as unknown as Result;
    const directKey = String(direct.structuredContent?.['key']);

    const created = await c.tool('notes__create', { text: 'second' });
    expect(created).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = String(created['taskId']);
    const jobId = jobOf(taskId);
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'working', statusMessage: expect.stringContaining(jobId) });
    const waiting = (await c.tool('queue__job_status', { jobId }))['structuredContent'] as { jobId: string; state: string };
    expect(waiting).toMatchObject({ jobId });
    expect(['queued', 'sending']).toContain(waiting.state);

    const done = await c.until(taskId, ['completed', 'failed', 'cancelled'], 20_000);
    const result = done['result'] as Result;
    // The provider keys a write by its job id; the same words, one text as long as the other.
    expect(result.structuredContent).toEqual({ applied: true, key: jobId, bytes: direct.structuredContent?.['bytes'] });
    expect(result.content).toEqual(direct.content.map((b) => ({ ...b, text: b.text.replace(directKey, jobId) })));
    expect(result.isError).toBeUndefined();
    const status = (await c.tool('queue__job_status', { jobId }))['structuredContent'] as { state: string; result: { status: number; body: string } };
    expect(status).toMatchObject({ state: 'done', result: { status: 200 } });
    expect(JSON.parse(status.result.body)).toEqual(result.structuredContent);
    expect(api.appliedByKey.get(jobId)).toBe(1);
  });

  it('cancelled before it is sent, a write is never sent; a cancel after is a no-op that keeps the outcome', async () => {
    const c = taskClient(hub.url, hub.token);
    const first = String((await c.tool('notes__create', { text: 'goes out' }))['taskId']);
    const held = String((await c.tool('notes__create', { text: 'never sent' }))['taskId']);
    const heldJob = jobOf(held);
    // Behind the paced one, in order: still queued.
    expect((await c.tool('queue__job_status', { jobId: heldJob }))['structuredContent']).toMatchObject({ state: 'queued' });
    await c.ok('tasks/cancel', { taskId: held });
    expect(await c.ok('tasks/get', { taskId: held })).toMatchObject({ status: 'cancelled', statusMessage: expect.stringContaining(heldJob) });
    expect((await c.tool('queue__job_status', { jobId: heldJob }))['structuredContent']).toMatchObject({ state: 'cancelled' });

    await c.until(first, ['completed'], 20_000);
    // A write queued after the cancelled one is sent: the worker went past it.
    const after = String((await c.tool('notes__create', { text: 'after it' }))['taskId']);
    await c.until(after, ['completed'], 20_000);
    expect(sentBodies().some((b) => b.includes('after it'))).toBe(true);
    expect(sentBodies().some((b) => b.includes('never sent'))).toBe(false);
    expect(api.appliedByKey.has(heldJob)).toBe(false);

    await c.ok('tasks/cancel', { taskId: after });
    expect(await c.ok('tasks/get', { taskId: after })).toMatchObject({ status: 'completed' });
  });

  it('a write the provider refuses ends its task with the isError answer the call gives; another user cannot see it', async () => {
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('strict__create', { text: 'far too long' }))['taskId']);
    const jobId = jobOf(taskId);
    const failed = await c.until(taskId, ['completed', 'failed', 'cancelled'], 20_000);
    // SEP-2663: a tool's own isError answer is a completed task; failed is for JSON-RPC errors.
    expect(failed).toMatchObject({
      status: 'completed',
      statusMessage: expect.stringContaining(jobId),
      result: { isError: true, content: [{ type: 'text', text: expect.stringContaining('text is too long') }] },
    });
    expect(failed).not.toHaveProperty('error');
    const bob = taskClient(hub.url, (await hub.hub.tokens.create({ user: 'bob' })).token);
    expect((await bob.call('tasks/get', { taskId })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
    expect((await bob.tool('queue__job_status', { jobId }))['isError']).toBe(true);
  });

  it('2025-11-25 session: a status notification when the job finishes, and tasks/result gives the answer', async () => {
    const { client, statuses } = await connectV1();
    let taskId: string | undefined;
    let result: unknown;
    for await (const m of client.experimental.tasks.callToolStream({ name: 'notes__create', arguments: { text: 'from v1' } }, CallToolResultSchema, {
      task: { ttl: 120_000 },
    })) {
      if (m.type === 'taskCreated') {
        taskId = m.task.taskId;
        expect(m.task.ttl).toBe(120_000);
      }
      if (m.type === 'result') result = m.result;
      if (m.type === 'error') throw m.error;
    }
    const jobId = jobOf(taskId!);
    expect(result).toMatchObject({ structuredContent: { applied: true, key: jobId } });
    await eventually(() => statuses.includes(`${taskId}:completed`), 5_000);

    // A refused write: failed (2025-11-25 counts isError as failed), and tasks/result gives the
    // call's own isError answer, not a JSON-RPC error.
    // (The SDK's callToolStream throws on a failed task without asking tasks/result: asked here.)
    const created = await client.request(
      { method: 'tools/call', params: { name: 'strict__create', arguments: { text: 'far too long' }, task: { ttl: 120_000 } } },
      CreateTaskResultSchema,
    );
    const refusedId = created.task.taskId;
    const refused = await client.request({ method: 'tasks/result', params: { taskId: refusedId } }, CallToolResultSchema);
    expect(refused.isError).toBe(true);
    expect(await client.experimental.tasks.getTask(refusedId)).toMatchObject({ status: 'failed', statusMessage: expect.stringContaining('job_') });
    await eventually(() => statuses.includes(`${refusedId}:failed`), 5_000);
  });
});

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, ElicitRequestSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

/**
 * The 2025-11-25 experimental tasks for session clients, with the 1.x SDK client (what most MCP
 * hosts embed) and its own task support: a task-augmented tools/call, tasks/get, tasks/result
 * (input delivered as elicitation requests on its stream), tasks/list, tasks/cancel and
 * notifications/tasks/status, over the same registry the 2026-07-28 extension reads.
 */

let hub: RunningHub | undefined;
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await hub?.stop();
  hub = undefined;
});

async function connect(h: RunningHub, token = h.token): Promise<{ client: Client; statuses: string[] }> {
  const client = new Client({ name: 'v1-tasks', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  const statuses: string[] = [];
  client.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(`${n.params.taskId}:${n.params.status}`));
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    expect(req.params._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId: expect.stringMatching(/^task_/) });
    return { action: 'accept', content: { confirm: true } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return { client, statuses };
}

/** Drains a callToolStream into the messages' types and the final result or error. */
async function drain(stream: AsyncGenerator<{ type: string; task?: { taskId: string }; result?: unknown; error?: unknown }>) {
  const types: string[] = [];
  let taskId: string | undefined;
  let result: unknown;
  let error: unknown;
  for await (const m of stream) {
    types.push(m.type);
    if (m.type === 'taskCreated') taskId = m.task?.taskId;
    if (m.type === 'result') result = m.result;
    if (m.type === 'error') error = m.error;
  }
  return { types, taskId, result, error };
}

describe('2025-11-25 experimental tasks (1.x SDK client over a 2025 session)', () => {
  it('declares tasks, runs a task-augmented call to its result, and announces status changes', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const { client, statuses } = await connect(hub);
    expect(client.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const listed = (await client.listTools()).tools.find((t) => t.name === 'slow_compute');
    expect(listed?.execution).toEqual({ taskSupport: 'optional' });

    const run = await drain(
      client.experimental.tasks.callToolStream({ name: 'slow_compute', arguments: { seconds: 0.1, label: 'v1' } }, CallToolResultSchema, {
        task: { ttl: 60_000 },
      }),
    );
    expect(run.types[0]).toBe('taskCreated');
    expect(run.types.at(-1)).toBe('result');
    expect(run.result).toMatchObject({ content: [{ type: 'text', text: 'v1: computed after 0.1 s' }] });
    const taskId = run.taskId!;
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: 'completed', ttl: 60_000, pollInterval: 500 });
    await eventually(() => statuses.includes(`${taskId}:completed`));

    // The same task, read by a 2026-07-28 request of the same user: one registry for both eras.
    expect(await taskClient(hub.url, hub.token).ok('tasks/get', { taskId })).toMatchObject({ status: 'completed' });
  });

  it('a task asked of a tool that does not run as one is -32601, and the tool is not run', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const { client } = await connect(hub);
    const plain = (await client.listTools()).tools.find((t) => t.execution?.taskSupport === undefined && t.name === 'test_simple_text');
    expect(plain).toBeDefined();
    const asked = client.request({ method: 'tools/call', params: { name: 'test_simple_text', arguments: {}, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    await expect(asked).rejects.toMatchObject({ code: -32601, message: expect.stringContaining('does not run as a task') });
    expect(await client.experimental.tasks.listTasks()).toMatchObject({ tasks: [] });
    // Without `task` the same tool answers as ever.
    expect((await client.callTool({ name: 'test_simple_text', arguments: {} })).isError).toBeFalsy();
  });

  it('a plain call of a tool that runs only as a task is -32601, and the tool is not run', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const { client } = await connect(hub);
    expect((await client.listTools()).tools.find((t) => t.name === 'failing_job')?.execution).toEqual({ taskSupport: 'required' });
    // Sent as is: the 1.x client's callTool refuses it itself, other clients send it.
    await expect(client.request({ method: 'tools/call', params: { name: 'failing_job', arguments: {} } }, CallToolResultSchema)).rejects.toMatchObject({
      code: -32601,
      message: expect.stringContaining('runs only as a task'),
    });
    expect(await client.experimental.tasks.listTasks()).toMatchObject({ tasks: [] });
    // With `task` the same call runs.
    const run = await drain(client.experimental.tasks.callToolStream({ name: 'failing_job', arguments: {} }, CallToolResultSchema, { task: {} }));
    expect(run.types[0]).toBe('taskCreated');
  });

  it('delivers a task’s input request through tasks/result and finishes with the answer', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const { client } = await connect(hub);
    const run = await drain(
      client.experimental.tasks.callToolStream({ name: 'confirm_delete', arguments: { filename: 'old.log' } }, CallToolResultSchema, { task: {} }),
    );
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ content: [{ type: 'text', text: 'delete old.log: accept {"confirm":true}' }] });
  });

  it('lists only the caller’s tasks, cancels a running one, refuses a finished one’s cancel (-32602) and a cursor naming none of its tasks', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const alice = await connect(hub);
    const bob = await connect(hub, (await hub.hub.tokens.create({ user: 'bob' })).token);
    const created = await alice.client.request(
      { method: 'tools/call', params: { name: 'slow_compute', arguments: { seconds: 60 }, task: {} } },
      CreateTaskResultSchema,
    );
    const running = created.task.taskId;
    const quick = await drain(
      alice.client.experimental.tasks.callToolStream({ name: 'slow_compute', arguments: { seconds: 0 } }, CallToolResultSchema, { task: {} }),
    );

    const mine = (await alice.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
    expect(mine).toEqual([running, quick.taskId]);
    expect((await bob.client.experimental.tasks.listTasks()).tasks).toEqual([]);
    await expect(bob.client.experimental.tasks.getTask(running)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Task not found') });
    await expect(bob.client.experimental.tasks.cancelTask(running)).rejects.toMatchObject({ code: -32602 });

    expect(await alice.client.experimental.tasks.cancelTask(running)).toMatchObject({ taskId: running, status: 'cancelled' });
    // 2025-11-25: a task already terminal cannot be cancelled; it stays as it was.
    await expect(alice.client.experimental.tasks.cancelTask(quick.taskId!)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('terminal'),
    });
    await expect(alice.client.experimental.tasks.cancelTask(running)).rejects.toMatchObject({ code: -32602 });
    expect(await alice.client.experimental.tasks.getTask(quick.taskId!)).toMatchObject({ status: 'completed' });
    // A cursor of another user's task, or of none: invalid, not an empty page that ends the listing.
    const cursorOf = (id: string) => Buffer.from(id).toString('base64url');
    await expect(bob.client.experimental.tasks.listTasks(cursorOf(running))).rejects.toMatchObject({ code: -32602 });
    await expect(alice.client.experimental.tasks.listTasks(cursorOf('task_doesnotexist'))).rejects.toMatchObject({ code: -32602 });
  });
});

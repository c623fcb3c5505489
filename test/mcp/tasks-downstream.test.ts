import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, ElicitRequestSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient, WITHOUT_TASKS } from './tasks-helpers.js';

/**
 * A downstream server's own tasks (2025-11-25 experimental tasks, as the everything server runs
 * `simulate-research-query`) pass through the hub with the hub's task ids: a 1.x SDK server with
 * the SDK's task store, over stdio (one shared process) and over HTTP (a session per user), driven
 * by a 2025 session client (the 1.x SDK's own task support) and by 2026-07-28 requests.
 */
const TASK_SERVER = join(ROOT, 'dist/test/fixtures/task-server.js');
const HUB_ID = /^task_[A-Za-z0-9_-]{22}$/;

interface Seen {
  client: Client;
  /** Every message the client received, as JSON: what the downstream ids must never appear in. */
  wire: string[];
  statuses: string[];
}

async function connect(hub: RunningHub, token: string): Promise<Seen> {
  const wire: string[] = [];
  const statuses: string[] = [];
  const client = new Client({ name: 'v1-tasks', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  client.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(`${n.params.taskId}:${n.params.status}`));
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    wire.push(JSON.stringify(req));
    return { action: 'accept', content: { meaning: `snake for ${req.params._meta?.['io.modelcontextprotocol/related-task']?.taskId}` } };
  });
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  const onmessage = transport.onmessage;
  transport.onmessage = (m) => {
    wire.push(JSON.stringify(m));
    onmessage?.(m);
  };
  return { client, wire, statuses };
}

/** The downstream's own ids and statuses of this user's tasks (the fixture's `task_ids` tool, per session). */
async function downstreamIds(client: Client, server: string): Promise<Record<string, string>> {
  const r = await client.callTool({ name: `${server}__task_ids` });
  return JSON.parse((r.content as { text: string }[])[0]!.text) as Record<string, string>;
}

async function drain(stream: AsyncGenerator<{ type: string; task?: { taskId: string }; result?: unknown; error?: unknown }>) {
  const out: { types: string[]; taskId?: string; result?: unknown; error?: unknown } = { types: [] };
  for await (const m of stream) {
    out.types.push(m.type);
    if (m.type === 'taskCreated') out.taskId = m.task?.taskId;
    if (m.type === 'result') out.result = m.result;
    if (m.type === 'error') out.error = m.error;
  }
  return out;
}

async function spawnHttp(port = 0): Promise<{ url: string; child: ChildProcess }> {
  const env = { ...process.env, TASK_SERVER_PORT: String(port) };
  const child = spawn(process.execPath, [TASK_SERVER, '--http'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const bound = await new Promise<number>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (l) => res((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => rej(new Error(`task server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${bound}/mcp`, child };
}

describe('downstream tasks pass through with the hub’s own ids', () => {
  let hub: RunningHub;
  let bobToken: string;
  let http: ChildProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    const h = await spawnHttp();
    http = h.child;
    hub = await startHub({
      mcpServers: { ts: { command: process.execPath, args: [TASK_SERVER, '--stdio'] }, th: { url: h.url } },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    http?.kill();
  });

  async function user(token: string): Promise<Seen> {
    const s = await connect(hub, token);
    clients.push(s.client);
    return s;
  }

  it('passes each downstream tool’s taskSupport on: listed to 2025 clients, enforced for 2026-07-28 ones', async () => {
    const alice = await user(hub.token);
    const legacy = Object.fromEntries((await alice.client.listTools()).tools.map((t) => [t.name, t.execution]));
    expect(legacy).toMatchObject({
      ts__research: { taskSupport: 'required' },
      ts__hold: { taskSupport: 'optional' },
      ts__task_ids: { taskSupport: 'forbidden' },
      th__research: { taskSupport: 'required' },
      th__hold: { taskSupport: 'optional' },
    });
    // The 2026-07-28 Tool has no `execution` (SEP-2663 deleted it); a task-only tool is refused,
    // naming the extension, to a request that does not declare it (-32021), as for the hub's own.
    const plain = taskClient(hub.url, hub.token, WITHOUT_TASKS);
    expect((await plain.call('tools/call', { name: 'th__research', arguments: { topic: 'x' } })).error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } } },
    });
    // A tool the downstream runs only in line stays in line for a request that declares the extension.
    expect((await taskClient(hub.url, hub.token).call('tools/call', { name: 'ts__task_ids' })).result).toMatchObject({ resultType: 'complete' });
  });

  it('runs a stdio downstream task for a 2025 client: hub ids in the answer, notifications and result; never the downstream’s', async () => {
    const alice = await user(hub.token);
    const run = await drain(
      alice.client.experimental.tasks.callToolStream({ name: 'ts__research', arguments: { topic: 'tides' } }, CallToolResultSchema, { task: { ttl: 60_000 } }),
    );
    expect(run.error).toBeUndefined();
    expect(run.types[0]).toBe('taskCreated');
    expect(run.taskId).toMatch(HUB_ID);
    expect(run.result).toMatchObject({ content: [{ type: 'text', text: 'report on tides (plain)' }] });
    expect(await alice.client.experimental.tasks.getTask(run.taskId!)).toMatchObject({ taskId: run.taskId, status: 'completed' });
    await eventually(() => alice.statuses.includes(`${run.taskId}:completed`));
    expect(alice.statuses.every((s) => s.startsWith(`${run.taskId}:`))).toBe(true);

    const seen = [...alice.wire];
    expect(seen.length).toBeGreaterThan(3);
    const downstream = Object.keys(await downstreamIds(alice.client, 'ts'));
    expect(downstream).toHaveLength(1);
    expect(downstream[0]).not.toBe(run.taskId);
    for (const message of seen) expect(message).not.toContain(downstream[0]);
  });

  it('keeps two users’ HTTP downstream tasks apart: own sessions, foreign ids not found, cancel reaches the downstream', async () => {
    const alice = await user(hub.token);
    const bob = await user(bobToken);
    const created = async (s: Seen) =>
      (await s.client.request({ method: 'tools/call', params: { name: 'th__hold', arguments: { label: 'x' }, task: {} } }, CreateTaskResultSchema)).task.taskId;
    const aliceTask = await created(alice);
    const bobTask = await created(bob);
    expect(aliceTask).toMatch(HUB_ID);
    expect(await alice.client.experimental.tasks.getTask(aliceTask)).toMatchObject({ status: 'working' });

    await expect(bob.client.experimental.tasks.getTask(aliceTask)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Task not found') });
    await expect(bob.client.experimental.tasks.cancelTask(aliceTask)).rejects.toMatchObject({ code: -32602 });
    const bobModern = taskClient(hub.url, bobToken);
    expect((await bobModern.call('tasks/get', { taskId: aliceTask })).error).toMatchObject({ code: -32602 });

    // Each user's calls go over a downstream session of their own: each sees only their task there.
    const aliceDownstream = await downstreamIds(alice.client, 'th');
    const bobDownstream = await downstreamIds(bob.client, 'th');
    expect(Object.values(aliceDownstream)).toEqual(['working']);
    expect(Object.values(bobDownstream)).toEqual(['working']);
    expect(Object.keys(aliceDownstream)).not.toEqual(Object.keys(bobDownstream));

    expect(await alice.client.experimental.tasks.cancelTask(aliceTask)).toMatchObject({ taskId: aliceTask, status: 'cancelled' });
    expect(Object.values(await downstreamIds(alice.client, 'th'))).toEqual(['cancelled']);
    expect(await bob.client.experimental.tasks.getTask(bobTask)).toMatchObject({ status: 'working' });
    await bob.client.experimental.tasks.cancelTask(bobTask);
  });

  it('relays a downstream task’s input request to a 2025 client through tasks/result, under the hub’s id', async () => {
    const alice = await user(hub.token);
    const run = await drain(
      alice.client.experimental.tasks.callToolStream({ name: 'th__research', arguments: { topic: 'python', ambiguous: true } }, CallToolResultSchema, {
        task: {},
      }),
    );
    expect(run.error).toBeUndefined();
    // The client answered with the related-task id it was shown: the hub's.
    expect(run.result).toMatchObject({ content: [{ type: 'text', text: `report on python (snake for ${run.taskId})` }] });
  });

  it('serves a 2026-07-28 client: a task at once, input through tasks/update, the result inlined in tasks/get', async () => {
    const c = taskClient(hub.url, hub.token);
    const created = await c.tool('ts__research', { topic: 'python', ambiguous: true });
    expect(created).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = String(created['taskId']);
    expect(taskId).toMatch(HUB_ID);

    const parked = await eventually(async () => {
      const r = await c.ok('tasks/get', { taskId });
      return r['inputRequests'] ? r : undefined;
    });
    expect(parked).toMatchObject({ status: 'input_required', statusMessage: 'Which python?' });
    const [key, request] = Object.entries(parked['inputRequests'] as Record<string, { method: string; params: Record<string, unknown> }>)[0]!;
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'Which python do you mean?' } });
    // The downstream's related-task `_meta` named its own id: it is gone, and nothing else was in it.
    expect(request.params).not.toHaveProperty('_meta');

    await c.ok('tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { meaning: 'language' } } } });
    expect(await c.until(taskId, ['completed', 'failed'])).toMatchObject({
      status: 'completed',
      result: { content: [{ type: 'text', text: 'report on python (language)' }] },
    });
  });

  it("reports a downstream task that failed with the tool's isError answer as that answer, in either era", async () => {
    // 2026-07-28: a tool error is a completed task with the isError result inlined (SEP-2663
    // keeps `failed` for JSON-RPC errors), not a failed task with an internal error.
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('th__fail_task', { why: 'disk full' }))['taskId']);
    const done = await c.until(taskId, ['failed', 'completed']);
    expect(done).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'disk full' }], isError: true } });
    expect(done).not.toHaveProperty('error');

    // 2025-11-25: failed, the reason in the status message, and tasks/result returns what the
    // server's own tasks/result returns (the isError answer), not a JSON-RPC error.
    const alice = await user(hub.token);
    const created = await alice.client.request(
      { method: 'tools/call', params: { name: 'th__fail_task', arguments: { why: 'quota spent' }, task: {} } },
      CreateTaskResultSchema,
    );
    const id = created.task.taskId;
    await eventually(async () => ((await alice.client.experimental.tasks.getTask(id)).status === 'failed' ? true : undefined));
    expect(await alice.client.experimental.tasks.getTask(id)).toMatchObject({ status: 'failed', statusMessage: 'th: the task failed: quota spent' });
    expect(await alice.client.experimental.tasks.getTaskResult(id, CallToolResultSchema)).toMatchObject({
      content: [{ type: 'text', text: 'quota spent' }],
      isError: true,
    });
  });

  it('answers tasks/get of a task whose stdio server restarted with failed and why, at once', async () => {
    const alice = await user(hub.token);
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('ts__hold', { label: 'doomed' }))['taskId']);
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'working' });
    await alice.client.callTool({ name: 'ts__exit' });

    const reason = expect.stringContaining('ts stopped or restarted after this task began');
    expect(await c.until(taskId, ['failed'], 5_000)).toMatchObject({ status: 'failed', error: { code: -32603, message: reason } });
    expect(await alice.client.experimental.tasks.getTask(taskId)).toMatchObject({ status: 'failed', statusMessage: reason });
    // The restarted server runs new tasks as before.
    await eventually(async () => (await c.call('tools/call', { name: 'ts__hold', arguments: { label: 'again' } })).result?.['resultType'] === 'task');
  });

  it('answers tasks/get of a task whose HTTP server restarted (its session gone) with failed and why, without waiting', async () => {
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('th__hold', { label: 'doomed' }))['taskId']);
    const port = Number(new URL((hub.hub.config.mcpServers['th'] as { url: string }).url).port);
    await new Promise<void>((res) => {
      http.once('exit', () => res());
      http.kill();
    });
    // Unreachable is not an outcome: the task reads as it last was, saying why.
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'working', statusMessage: expect.stringContaining('th did not answer') });
    http = (await spawnHttp(port)).child;
    const reason = expect.stringContaining('th ended the session this task ran in');
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'failed', error: { code: -32603, message: reason } });
  });
});

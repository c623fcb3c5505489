/**
 * Agent calls as MCP Tasks (issue 11): an async agent call's task is its agent task row (one
 * record, not a copy), a stream call is a local task. A real hub on loopback hosting the sandbox
 * marketplace, whose callbacks are held until the test releases them; 2026-07-28 requests over
 * fetch and the 1.x SDK client over a 2025 session. The hub's clock is real time plus a skew the
 * expiry test moves, so nothing is slept out.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TTL_MS } from '../../src/mcp/tasks/service.js';
import { connectClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { releaseHeld } from '../agents/support.js';
import { taskClient } from './tasks-helpers.js';

const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', retries: 0 } as const;
const ASYNC = { ...SB, mode: 'async', webhookSecret: 'whsec_tasks_backed_5c1d' } as const;
const ECHO_OUT = { type: 'object', properties: { reply: { type: 'string' }, session_id: { type: 'string' } }, required: ['reply', 'session_id'] };
const AGENTS = {
  held: { ...ASYNC, agentId: 'echo_v1+callback=hold', outputSchema: ECHO_OUT, waitMs: 150 },
  failing: { ...ASYNC, agentId: 'echo_v1+callback=failed', waitMs: 150 },
  writer: { ...SB, agentId: 'writer_v2', mode: 'stream', headers: { 'x-sandbox-token-ms': '1' } },
  plain: { ...SB, agentId: 'echo_v1' },
};

let skew = 0;
const clock = { now: () => Date.now() + skew };

describe('agent calls as MCP Tasks', () => {
  let hub: RunningHub;
  let base: string;
  let bobToken: string;
  const v1: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { clock, agents: { sleep: async () => {}, tasks: { pollMs: 100 } } });
    base = hub.url.replace(/\/mcp$/, '');
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.all(v1.map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  /** The agent task a registry record points at (the test reads the store the hub writes). */
  const backingOf = (taskId: string): { kind: string; id: string } => {
    const row = hub.hub.db.prepare('SELECT backing_kind AS kind, backing_id AS id FROM mcp_tasks WHERE id = ?').get(taskId) as { kind: string; id: string };
    return row;
  };
  const release = (agentTaskId: string) => releaseHeld(base, agentTaskId);
  const connectV1 = async (token: string): Promise<{ client: Client; statuses: string[] }> => {
    const client = new Client({ name: 'v1-agent-tasks', version: '1.0.0' });
    const statuses: string[] = [];
    client.setNotificationHandler(TaskStatusNotificationSchema, (n) => void statuses.push(`${n.params.taskId}:${n.params.status}`));
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    v1.push(client);
    return { client, statuses };
  };

  it('declares task support on async and stream agents only (2025-11-25 `execution`; 2026-07-28 lists none)', async () => {
    const { client } = await connectV1(hub.token);
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t.execution]));
    expect(tools.get('agent__held')).toEqual({ taskSupport: 'optional' });
    expect(tools.get('agent__writer')).toEqual({ taskSupport: 'optional' });
    expect(tools.get('agent__plain')).toBeUndefined();
    expect(tools.get('agent__task_status')).toBeUndefined();
    // 2026-07-28 deleted `execution` from Tool (the SDK strips it): there a server decides per
    // request, so the same call still becomes a task (the next tests), with nothing listed.
    const modern: Array<{ name: string; execution?: unknown }> = [];
    for (let cursor: unknown; ; ) {
      const page = await taskClient(hub.url, hub.token).ok('tools/list', cursor === undefined ? {} : { cursor });
      modern.push(...(page['tools'] as typeof modern));
      cursor = page['nextCursor'];
      if (cursor === undefined) break;
    }
    expect(modern.find((t) => t.name === 'agent__held')).not.toHaveProperty('execution');
  });

  it('an async call answers at once with a task on the agent task; the callback completes it; agent__task_status reads the same row', async () => {
    const c = taskClient(hub.url, hub.token);
    const created = await c.tool('agent__held', { input: 'as a task' });
    expect(created).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = String(created['taskId']);
    const backing = backingOf(taskId);
    expect(backing).toEqual({ kind: 'agent_task', id: expect.stringMatching(/^at_[A-Za-z0-9_-]{22}$/) });
    const working = await c.ok('tasks/get', { taskId });
    expect(working).toMatchObject({ status: 'working', statusMessage: expect.stringContaining(backing.id) });
    // Nothing to answer: the error says why.
    const update = await c.call('tasks/update', { taskId, inputResponses: {} });
    expect(update.error).toMatchObject({ code: -32602, message: expect.stringContaining('tasks/update does not apply') });

    expect(await release(backing.id)).toEqual({ statuses: [200] });
    const done = await c.until(taskId, ['completed', 'failed', 'cancelled']);
    expect(done).toMatchObject({
      status: 'completed',
      result: {
        content: [{ type: 'text', text: expect.stringContaining('echo: as a task') }],
        structuredContent: { reply: 'echo: as a task' },
        _meta: { 'switchboard/agent': { agent: 'held', hubTaskId: backing.id } },
      },
    });
    const status = await c.tool('agent__task_status', { taskId: backing.id });
    expect(status['structuredContent']).toMatchObject({
      taskId: backing.id,
      state: 'completed',
      result: (done['result'] as { structuredContent: unknown }).structuredContent,
    });

    // Another user: the one not-found error, on tasks/get and tasks/cancel alike.
    const bob = taskClient(hub.url, bobToken);
    expect((await bob.call('tasks/get', { taskId })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
    expect((await bob.call('tasks/cancel', { taskId })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
  });

  it('a cancelled agent task stays cancelled when its callback comes late; a failed one carries the reason', async () => {
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('agent__held', { input: 'never mind' }))['taskId']);
    const { id } = backingOf(taskId);
    await c.ok('tasks/cancel', { taskId });
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'cancelled' });
    expect(await release(id)).toEqual({ statuses: [200] });
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'cancelled' });
    expect((await c.tool('agent__task_status', { taskId: id }))['structuredContent']).toMatchObject({ state: 'cancelled' });

    const failing = String((await c.tool('agent__failing', { input: 'x' }))['taskId']);
    const failed = await c.until(failing, ['completed', 'failed', 'cancelled']);
    // The direct call's isError answer, inlined: SEP-2663 keeps `failed` for JSON-RPC errors.
    expect(failed).toMatchObject({
      status: 'completed',
      statusMessage: expect.stringContaining(`task ${backingOf(failing).id} failed`),
      result: { isError: true, content: [{ type: 'text', text: expect.stringContaining(`task ${backingOf(failing).id} failed`) }] },
    });
    expect(failed).not.toHaveProperty('error');
  });

  it('a stream call runs as a local task and completes with the streamed answer', async () => {
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('agent__writer', { input: 'a haiku' }))['taskId']);
    expect(backingOf(taskId).kind).toBe('local');
    const done = await c.until(taskId, ['completed', 'failed', 'cancelled']);
    expect(done).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: expect.any(String) }] } });
    expect((done['result'] as { isError?: boolean }).isError).toBeUndefined();
    // At rest the result is sealed: the streamed answer is not in the store in the clear.
    const text = (done['result'] as { content: Array<{ text: string }> }).content[0]!.text;
    const stored = hub.hub.db.prepare('SELECT result FROM mcp_tasks WHERE id = ?').pluck().get(taskId) as string;
    expect(stored).toContain('sbv1.');
    expect(stored).not.toContain(text.slice(0, 20));
  });

  it('2025-11-25 session: the client’s ttl is honoured up to 24 h, status is announced, tasks/result gives the answer', async () => {
    const { client, statuses } = await connectV1(hub.token);
    const created = await client.request(
      { method: 'tools/call', params: { name: 'agent__held', arguments: { input: 'v1 task' }, task: { ttl: 600_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    expect(created.task).toMatchObject({ status: 'working', ttl: 600_000 });
    const result = client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    await release(backingOf(taskId).id);
    expect(await result).toMatchObject({ structuredContent: { reply: 'echo: v1 task' } });
    await eventually(() => statuses.includes(`${taskId}:completed`));

    const long = await client.request(
      { method: 'tools/call', params: { name: 'agent__held', arguments: { input: 'forever' }, task: { ttl: 30 * 86_400_000 } } },
      CreateTaskResultSchema,
    );
    expect(long.task.ttl).toBe(MAX_TTL_MS);
    expect(MAX_TTL_MS).toBe(86_400_000);
    await client.experimental.tasks.cancelTask(long.task.taskId);
  });

  it('an expired task is not found and its registry row is purged; the agent task follows its own retention', async () => {
    const { client } = await connectV1(hub.token);
    const created = await client.request(
      { method: 'tools/call', params: { name: 'agent__held', arguments: { input: 'short-lived' }, task: { ttl: 5_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    const { id } = backingOf(taskId);
    await release(id);
    const c = taskClient(hub.url, hub.token);
    await c.until(taskId, ['completed']);
    skew += 5_000;
    expect((await c.call('tasks/get', { taskId })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
    await expect(client.experimental.tasks.getTask(taskId)).rejects.toMatchObject({ code: -32602 });
    // The purge runs on the way of a create, at most once a minute.
    skew += 61_000;
    const next = String((await c.tool('agent__writer', { input: 'after the purge' }))['taskId']);
    expect(hub.hub.db.prepare('SELECT count(*) AS n FROM mcp_tasks WHERE id = ?').get(taskId)).toEqual({ n: 0 });
    expect((await c.tool('agent__task_status', { taskId: id }))['structuredContent']).toMatchObject({ taskId: id, state: 'completed' });
    await c.until(next, ['completed', 'failed']);
  });

  it('a client without tasks still gets the direct call, unchanged', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__writer', { input: 'direct' });
      expect(r.isError).toBe(false);
      expect(r.content).toEqual([{ type: 'text', text: expect.any(String) }]);
    } finally {
      await c.close();
    }
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient, WITHOUT_TASKS } from './tasks-helpers.js';

/**
 * A downstream that speaks the 2026-07-28 Tasks extension (SEP-2663) — the hub's own conformance
 * fixture, over stdio, negotiated on 2026-07-28 — has its tasks passed through: a caller's task
 * call becomes the downstream's task behind a hub task id, and tasks/get, tasks/update and
 * tasks/cancel reach it. Two users share the one fixture process; neither sees the other's tasks,
 * and no answer carries the downstream's task id.
 */
const FIXTURE = join(ROOT, 'dist/scripts/fixture-server.js');
const HUB_ID = /^task_[A-Za-z0-9_-]{22}$/;
const EXTENSION = 'io.modelcontextprotocol/tasks';

describe('a 2026-07-28 downstream’s tasks pass through the hub', () => {
  let hub: RunningHub;
  let bobToken: string;
  /** Every answer the callers got, as JSON: no downstream task id may appear in any. */
  const wire: string[] = [];

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--transport', 'stdio', '--era', '2026'] } } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  }, 30_000);
  afterAll(async () => {
    await hub?.stop();
  });

  function client(token: string, capabilities?: Record<string, unknown>) {
    const c = capabilities === undefined ? taskClient(hub.url, token) : taskClient(hub.url, token, capabilities);
    return {
      ...c,
      async call(method: string, params: Record<string, unknown> = {}) {
        const r = await c.call(method, params);
        wire.push(JSON.stringify(r));
        return r;
      },
      async until(taskId: string, statuses: readonly string[]) {
        const r = await c.until(taskId, statuses);
        wire.push(JSON.stringify(r));
        return r;
      },
    };
  }

  async function create(c: ReturnType<typeof client>, name: string, args: Record<string, unknown> = {}): Promise<string> {
    const r = await c.call('tools/call', { name, arguments: args });
    // The task is read at once after it is made (durable create): it may already wait for input, or
    // have ended (a job that fails at once is a completed task with isError, or a failed one).
    expect(r.result, JSON.stringify(r)).toMatchObject({ resultType: 'task', status: expect.stringMatching(/^(working|input_required|completed|failed)$/) });
    expect(r.result).not.toHaveProperty('requestState');
    const id = String(r.result!['taskId']);
    expect(id).toMatch(HUB_ID);
    return id;
  }

  it('runs a task to its inlined result for its owner only; another user gets the one not-found error', async () => {
    const alice = client(hub.token);
    const bob = client(bobToken);
    const id = await create(alice, 'fx__slow_compute', { seconds: 0.2, label: 'sum' });
    expect((await bob.call('tasks/get', { taskId: id })).error).toMatchObject({ code: -32602, message: 'Task not found' });
    const done = await alice.until(id, ['completed']);
    expect(done).toMatchObject({ taskId: id, status: 'completed', result: { content: [{ type: 'text', text: 'sum: computed after 0.2 s' }] } });
    expect(done).not.toHaveProperty('requestState');
    // A tool's own failure is a completed task with isError; a protocol error a failed one.
    const toolError = await create(alice, 'fx__failing_job');
    expect(await alice.until(toolError, ['completed'])).toMatchObject({ result: { isError: true } });
    const broken = await create(bob, 'fx__protocol_error_job');
    expect(await bob.until(broken, ['failed'])).toMatchObject({ status: 'failed', error: { code: -32603, message: 'the fixture job broke down' } });
  });

  it('shows the downstream’s input requests and passes the caller’s answers on with tasks/update', async () => {
    const bob = client(bobToken);
    const id = await create(bob, 'fx__multi_input');
    const waiting = await bob.until(id, ['input_required']);
    expect(Object.keys(waiting['inputRequests'] as object).sort()).toEqual(['confirm', 'name']);
    const answer = (content: Record<string, unknown>) => ({ action: 'accept', content });
    expect((await bob.call('tasks/update', { taskId: id, inputResponses: { name: answer({ name: 'Bob' }) } })).result).toBeDefined();
    expect((await bob.call('tasks/update', { taskId: id, inputResponses: { confirm: answer({ confirm: true }) } })).result).toBeDefined();
    expect(await bob.until(id, ['completed'])).toMatchObject({
      result: { content: [{ type: 'text', text: 'name: accept {"name":"Bob"}; confirm: accept {"confirm":true}' }] },
    });
  });

  it('cancels a running task downstream, and a cancel of a finished one is an empty ack', async () => {
    const alice = client(hub.token);
    const id = await create(alice, 'fx__slow_compute', { seconds: 30 });
    await expect(client(bobToken).call('tasks/cancel', { taskId: id })).resolves.toMatchObject({ error: { code: -32602 } });
    expect((await alice.call('tasks/cancel', { taskId: id })).result).toMatchObject({ resultType: 'complete' });
    expect(await alice.until(id, ['cancelled'])).toMatchObject({ status: 'cancelled' });
    expect((await alice.call('tasks/cancel', { taskId: id })).result).toMatchObject({ resultType: 'complete' });
  });

  it('relays the input round before a task (MRTR), and the required-task error to a caller that did not opt in', async () => {
    const alice = client(hub.token);
    const first = await alice.call('tools/call', { name: 'fx__test_tool_with_task', arguments: {} });
    expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: { method: 'elicitation/create' } } });
    const retry = await alice.call('tools/call', {
      name: 'fx__test_tool_with_task',
      arguments: {},
      inputResponses: { user_name: { action: 'accept', content: { name: 'Ann' } } },
      requestState: first.result!['requestState'],
    });
    expect(retry.result).toMatchObject({ resultType: 'task' });
    const id = String(retry.result!['taskId']);
    expect(id).toMatch(HUB_ID);
    expect(await alice.until(id, ['completed'])).toMatchObject({ result: { content: [{ text: 'Hello, Ann! (finished as a task)' }] } });

    const plain = client(hub.token, WITHOUT_TASKS);
    expect((await plain.call('tools/call', { name: 'fx__failing_job', arguments: {} })).error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { [EXTENSION]: {} } } },
    });
    // An optional one runs in line for it.
    expect((await plain.call('tools/call', { name: 'fx__slow_compute', arguments: { seconds: 0 } })).result).toMatchObject({ resultType: 'complete' });
  });

  it('never shows a caller a task id other than the hub’s', () => {
    // The fixture is a hub too, so its ids look like the hub's: what it gave is read from the hub's own records.
    const rows = hub.hub.db.prepare("SELECT id, user_id, backing_id FROM mcp_tasks WHERE backing_kind = 'downstream'").all() as {
      id: string;
      user_id: string;
      backing_id: string;
    }[];
    expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set(['alice', 'bob']));
    const downstream = rows.map((r) => (JSON.parse(r.backing_id) as { task: string }).task);
    expect(downstream).toHaveLength(rows.length);
    const seen = new Set(wire.flatMap((w) => [...w.matchAll(/"taskId":"([^"]+)"/g)].map((m) => m[1])));
    expect(seen).toEqual(new Set(rows.map((r) => r.id)));
    for (const id of downstream) {
      expect(rows.map((r) => r.id)).not.toContain(id);
      for (const w of wire) expect(w).not.toContain(id);
    }
  });
});

import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient, WITHOUT_TASKS } from './tasks-helpers.js';

/**
 * MCP Tasks (SEP-2663) on 2026-07-28 requests, through the hub's real HTTP face with the
 * conformance fixture's task tools: negotiation, the CreateTaskResult and DetailedTask shapes,
 * input through tasks/update, cancellation, expiry on an injected clock, and a record that
 * outlives the hub process that made it.
 */

const hubs: RunningHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

async function hubWithTasks(opts: Parameters<typeof startHub>[1] = {}): Promise<RunningHub> {
  const h = await startHub({ fixtures: { conformance: true } }, opts);
  hubs.push(h);
  return h;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('MCP Tasks on 2026-07-28 requests', () => {
  it('advertises the extension, makes a task of a task-supporting tool and inlines its result when done', async () => {
    const h = await hubWithTasks();
    const c = taskClient(h.url, h.token);
    const discover = await c.ok('server/discover');
    expect(discover['capabilities']).toMatchObject({ extensions: { 'io.modelcontextprotocol/tasks': {} } });
    expect(discover['capabilities']).not.toHaveProperty('tasks');

    const created = await c.tool('slow_compute', { seconds: 60, label: 'long' });
    expect(created).toMatchObject({ resultType: 'task', status: 'working', ttlMs: 3_600_000, pollIntervalMs: 500 });
    expect(created['taskId']).toMatch(/^task_[A-Za-z0-9_-]{22}$/);
    expect(created['createdAt']).toMatch(ISO);
    expect(created['lastUpdatedAt']).toMatch(ISO);
    for (const key of ['task', 'result', 'error', 'inputRequests', 'requestState', 'ttl', 'pollInterval']) expect(created).not.toHaveProperty(key);
    // Durable before the answer: an immediate tasks/get finds it.
    const long = String(created['taskId']);
    expect(await c.ok('tasks/get', { taskId: long })).toMatchObject({ resultType: 'complete', taskId: long, status: 'working' });
    await c.ok('tasks/cancel', { taskId: long });

    const taskId = String((await c.tool('slow_compute', { seconds: 0, label: 'first' }))['taskId']);
    const done = await c.until(taskId, ['completed']);
    expect(done).toMatchObject({
      resultType: 'complete',
      taskId,
      status: 'completed',
      result: { content: [{ type: 'text', text: 'first: computed after 0 s' }] },
    });
    expect(done).not.toHaveProperty('error');

    // A sync-only tool stays sync, even with the v1 `task` hint.
    const greet = await c.call('tools/call', { name: 'greet', arguments: { name: 'Ada' }, task: { ttl: 60_000 } });
    expect(greet.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'Hello, Ada!' }] });
    expect(greet.result).not.toHaveProperty('taskId');
  });

  it('tells a tool error (completed + isError) from a protocol error (failed + error)', async () => {
    const h = await hubWithTasks();
    const c = taskClient(h.url, h.token);
    const failing = await c.tool('failing_job');
    const toolError = await c.until(String(failing['taskId']), ['completed', 'failed', 'cancelled']);
    expect(toolError).toMatchObject({ status: 'completed', result: { isError: true } });

    const broken = await c.tool('protocol_error_job');
    const failed = await c.until(String(broken['taskId']), ['completed', 'failed', 'cancelled']);
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32603, message: 'the fixture job broke down' } });
    expect(failed).not.toHaveProperty('result');
  });

  it('without the extension: task-supporting tools run to their result, task-only tools and tasks/* answer -32021', async () => {
    const h = await hubWithTasks();
    const c = taskClient(h.url, h.token, WITHOUT_TASKS);
    const sync = await c.tool('slow_compute', { seconds: 0, label: 'sync' });
    expect(sync).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'sync: computed after 0 s' }] });
    expect(sync).not.toHaveProperty('taskId');

    const required = { code: -32021, data: { requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } } } };
    expect((await c.call('tools/call', { name: 'failing_job', arguments: {} })).error).toMatchObject(required);
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      expect((await c.call(method, { taskId: 'task_anything', inputResponses: {} })).error, method).toMatchObject(required);
    }
    // The v1 methods are gone in v2, whatever the client declares.
    const withTasks = taskClient(h.url, h.token);
    expect((await withTasks.call('tasks/result', { taskId: 'x' })).error).toMatchObject({ code: -32601 });
    expect((await withTasks.call('tasks/list')).error).toMatchObject({ code: -32601 });
  });

  it('parks a task on input, keeps unanswered requests through a partial tasks/update, and resumes', async () => {
    const h = await hubWithTasks();
    const c = taskClient(h.url, h.token);
    const taskId = String((await c.tool('multi_input'))['taskId']);
    const parked = await c.until(taskId, ['input_required']);
    expect(Object.keys(parked['inputRequests'] as object).sort()).toEqual(['confirm', 'name']);
    expect(parked).toMatchObject({ inputRequests: { name: { method: 'elicitation/create' }, confirm: { method: 'elicitation/create' } } });

    const ack = await c.ok('tasks/update', { taskId, inputResponses: { name: { action: 'accept', content: { name: 'Ada' } }, stray: { action: 'accept' } } });
    expect(ack).toEqual({ resultType: 'complete', _meta: expect.any(Object) });
    const partial = await c.ok('tasks/get', { taskId });
    expect(partial).toMatchObject({ status: 'input_required' });
    expect(Object.keys(partial['inputRequests'] as object)).toEqual(['confirm']);

    await c.ok('tasks/update', { taskId, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } });
    expect(await c.until(taskId, ['completed', 'failed'])).toMatchObject({
      status: 'completed',
      result: { content: [{ type: 'text', text: 'name: accept {"name":"Ada"}; confirm: accept {"confirm":true}' }] },
    });
  });

  it('cancels a running task; cancelling a finished one is a no-op that keeps its final state', async () => {
    const h = await hubWithTasks();
    const c = taskClient(h.url, h.token);
    const running = String((await c.tool('slow_compute', { seconds: 60 }))['taskId']);
    expect(await c.ok('tasks/cancel', { taskId: running })).toEqual({ resultType: 'complete', _meta: expect.any(Object) });
    expect(await c.ok('tasks/get', { taskId: running })).toMatchObject({ status: 'cancelled' });
    await c.ok('tasks/cancel', { taskId: running });
    expect(await c.ok('tasks/get', { taskId: running })).toMatchObject({ status: 'cancelled' });

    const quick = String((await c.tool('slow_compute', { seconds: 0, label: 'quick' }))['taskId']);
    await c.until(quick, ['completed']);
    expect(await c.ok('tasks/cancel', { taskId: quick })).toEqual({ resultType: 'complete', _meta: expect.any(Object) });
    expect(await c.ok('tasks/get', { taskId: quick })).toMatchObject({ status: 'completed', result: { content: [{ text: 'quick: computed after 0 s' }] } });
  });

  it('keeps a task readable for its ttlMs and not a millisecond longer (injected clock)', async () => {
    const clock = manualClock(Date.UTC(2026, 5, 1));
    const h = await hubWithTasks({ clock });
    const c = taskClient(h.url, h.token);
    const created = await c.tool('slow_compute', { seconds: 0 });
    const taskId = String(created['taskId']);
    await c.until(taskId, ['completed']);
    clock.advance(Number(created['ttlMs']) - 1);
    expect(await c.ok('tasks/get', { taskId })).toMatchObject({ status: 'completed' });
    clock.advance(1);
    const expired = await c.call('tasks/get', { taskId });
    const unknown = await c.call('tasks/get', { taskId: 'task_never_issued_000000000' });
    expect(expired.error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
    expect(expired.error).toEqual(unknown.error);
  });

  it('answers tasks/get from the record after the hub that ran the task restarted; one cut short reads as a failed call', async () => {
    const first = await startHub({ fixtures: { conformance: true } });
    const c1 = taskClient(first.url, first.token);
    const taskId = String((await c1.tool('slow_compute', { seconds: 0, label: 'kept' }))['taskId']);
    await c1.until(taskId, ['completed']);
    const cut = String((await c1.tool('slow_compute', { seconds: 60, label: 'cut short' }))['taskId']);
    await first.hub.stop(); // the data dir stays

    try {
      const second = await hubWithTasks({ dataDir: first.dataDir });
      const again = await second.hub.tokens.create({ user: 'alice' });
      const c2 = taskClient(second.url, again.token);
      expect(await c2.ok('tasks/get', { taskId })).toMatchObject({ status: 'completed', result: { content: [{ text: 'kept: computed after 0 s' }] } });
      // The work does not outlive its process; the stopping hub said so in the record, as a failed
      // call reads: on 2026-07-28 a completed task with the isError result inlined.
      const stopped = 'The hub stopped while the task ran: slow_compute did not finish. Call it again.';
      expect(await c2.ok('tasks/get', { taskId: cut })).toMatchObject({
        status: 'completed',
        statusMessage: stopped,
        result: { isError: true, content: [{ type: 'text', text: stopped }] },
      });
    } finally {
      await Promise.all(hubs.splice(0).map((h) => h.stop()));
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * The task methods' refusals carry the hub's error code in `data`, as tools/call's do (README, HTTP
 * routes; docs/errors.md): an unknown, expired or foreign task id is -32602 "Task not found" with
 * `task_not_found` (one answer for all three, as before), and bad params, a bad cursor or a cancel
 * that cannot be done are -32602 with `invalid_params`. A real hub on loopback with the conformance
 * fixture's task tools; the 1.x SDK client over a 2025-11-25 session, and 2026-07-28 requests on the
 * wire as a client of that era sends them (the v2 SDK client has no task methods).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, GetTaskResultSchema, ListTasksResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const UNKNOWN = 'task_AAAAAAAAAAAAAAAAAAAAAA';
const NOT_FOUND = { code: -32602, message: 'Task not found', data: { code: 'task_not_found' } };
const invalid = (message: RegExp) => ({ code: -32602, message: expect.stringMatching(message), data: { code: 'invalid_params' } });

describe('error codes on the task methods', () => {
  let h: RunningHub;
  let v1: Client;

  beforeAll(async () => {
    h = await startHub({ fixtures: { conformance: true } });
    v1 = new Client({ name: 'task-error-codes', version: '1.0.0' });
    await v1.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
  });
  afterAll(async () => {
    await v1?.close();
    await h?.stop();
  });

  it('2025-11-25: tasks/get, tasks/result and tasks/cancel of an unknown id carry task_not_found', async () => {
    await expect(v1.experimental.tasks.getTask(UNKNOWN)).rejects.toMatchObject({ code: -32602, data: NOT_FOUND.data });
    await expect(v1.experimental.tasks.getTaskResult(UNKNOWN, CallToolResultSchema)).rejects.toMatchObject({ code: -32602, data: NOT_FOUND.data });
    await expect(v1.experimental.tasks.cancelTask(UNKNOWN)).rejects.toMatchObject({ code: -32602, data: NOT_FOUND.data });
  });

  it('2025-11-25: bad params, a bad cursor and a cancel of a finished task carry invalid_params', async () => {
    const badId = v1.request({ method: 'tasks/get', params: { taskId: 5 as unknown as string } }, GetTaskResultSchema);
    await expect(badId).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('Invalid params for tasks/get: taskId'),
      data: { code: 'invalid_params' },
    });
    const badCursor = v1.request({ method: 'tasks/list', params: { cursor: 'not-a-cursor' } }, ListTasksResultSchema);
    await expect(badCursor).rejects.toMatchObject({ code: -32602, data: { code: 'invalid_params' } });

    const created = await v1.request(
      { method: 'tools/call', params: { name: 'slow_compute', arguments: { seconds: 0, label: 'done' }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const done = await v1.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    expect(done).toMatchObject({ content: [{ type: 'text', text: 'done: computed after 0 s' }] });
    await expect(v1.experimental.tasks.cancelTask(created.task.taskId)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('terminal status'),
      data: { code: 'invalid_params' },
    });
  });

  it('2026-07-28: tasks/get, tasks/cancel and tasks/update of an unknown id carry task_not_found; bad params invalid_params', async () => {
    const c = taskClient(h.url, h.token);
    expect((await c.call('tasks/get', { taskId: UNKNOWN })).error).toEqual(NOT_FOUND);
    expect((await c.call('tasks/cancel', { taskId: UNKNOWN })).error).toEqual(NOT_FOUND);
    expect((await c.call('tasks/update', { taskId: UNKNOWN, inputResponses: {} })).error).toEqual(NOT_FOUND);
    expect((await c.call('tasks/get', { taskId: 5 })).error).toEqual(invalid(/^Invalid params for tasks\/get: taskId: /));
    expect((await c.call('tasks/cancel', {})).error).toEqual(invalid(/^Invalid params for tasks\/cancel: taskId: /));
  });
});

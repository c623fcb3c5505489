import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT } from '../helpers/hub.js';
import { taskClient } from '../mcp/tasks-helpers.js';
import type { ServeProcess } from '../oauth/support.js';
import { startServePair, type ServePair } from './serve-pair.js';

/**
 * A downstream task (a 2025-era server's task, SEP-2663 on the caller's side) lives in the session
 * of the hub process that started it: each `serve` runs its own copy of the stdio server. A local
 * task's work runs in the process that started it. Task requests that need that memory and reach
 * the other replica are sent to the holder (issue 13); when the holder is gone, the other replica
 * answers from the task's record at once, as it did before.
 */
const TASK_SERVER = join(ROOT, 'dist/test/fixtures/task-server.js');
const ELSEWHERE = 'This task runs on ts through another Switchboard process; ask that process.';

describe('task requests reaching another replica than the one holding the task', () => {
  let pair: ServePair;
  let a: ServeProcess;
  let b: ServeProcess;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    pair = await startServePair({ mcpServers: { ts: { command: process.execPath, args: [TASK_SERVER, '--stdio'] } }, fixtures: { conformance: true } });
    ({ a, b, alice, bob } = pair);
    // Two hubs and a CLI run start up on two shared cores.
  }, 90_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('tasks/get shows the input the task asks for, tasks/update answers it, and the result is read, all on the other replica', async () => {
    const onA = taskClient(a.url, alice);
    const onB = taskClient(b.url, alice);
    const taskId = String((await onA.tool('ts__research', { topic: 'python', ambiguous: true }))['taskId']);

    const parked = await eventually(async () => {
      const r = await onB.ok('tasks/get', { taskId });
      return r['inputRequests'] ? r : undefined;
    });
    expect(parked).toMatchObject({ status: 'input_required', statusMessage: 'Which python?' });
    const [key, request] = Object.entries(parked['inputRequests'] as Record<string, { method: string; params: Record<string, unknown> }>)[0]!;
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'Which python do you mean?' } });

    // Bob names alice's task on B: it is not his, so nothing is looked up, sent on, or changed.
    const bobs = await taskClient(b.url, bob).call('tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { meaning: 'snake' } } } });
    expect(bobs.error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });

    await onB.ok('tasks/update', { taskId, inputResponses: { [key]: { action: 'accept', content: { meaning: 'language' } } } });
    expect(await onB.until(taskId, ['completed', 'failed'])).toMatchObject({
      status: 'completed',
      result: { content: [{ type: 'text', text: 'report on python (language)' }] },
    });
  });

  it('tasks/cancel on the other replica reaches the downstream task', async () => {
    const onA = taskClient(a.url, alice);
    const onB = taskClient(b.url, alice);
    const taskId = String((await onA.tool('ts__hold', { label: 'long' }))['taskId']);
    const running = await onB.ok('tasks/get', { taskId });
    expect(running['status']).toBe('working');
    expect(running['statusMessage']).not.toBe(ELSEWHERE);

    await onB.ok('tasks/cancel', { taskId });
    expect(await onB.until(taskId, ['cancelled', 'completed', 'failed'])).toMatchObject({ status: 'cancelled' });
    // The holder agrees: the downstream task was cancelled, not only the record.
    expect(await onA.ok('tasks/get', { taskId })).toMatchObject({ status: 'cancelled' });
  });

  it("a local task's answers given on the other replica reach the work running on the holder", async () => {
    const onB = taskClient(b.url, alice);
    const taskId = String((await taskClient(a.url, alice).tool('confirm_delete', { filename: 'b.txt' }))['taskId']);
    // The record answers tasks/get on either replica; only the holder has the work to hand answers to.
    expect(await onB.until(taskId, ['input_required'])).toMatchObject({ inputRequests: { confirm: { method: 'elicitation/create' } } });
    await onB.ok('tasks/update', { taskId, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } });
    expect(await onB.until(taskId, ['completed', 'failed'])).toMatchObject({
      status: 'completed',
      result: { content: [{ text: 'delete b.txt: accept {"confirm":true}' }] },
    });
  });

  it('with the holder killed, the other replica answers from the record at once: the task failed with its process', async () => {
    const taskId = String((await taskClient(a.url, alice).tool('ts__hold', { label: 'orphan' }))['taskId']);
    await a.kill('SIGKILL');
    const started = performance.now();
    // Its heartbeat is still fresh; its refused connection says it is gone.
    const seen = await taskClient(b.url, alice).ok('tasks/get', { taskId });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(seen).toMatchObject({ status: 'failed', statusMessage: expect.stringContaining('The Switchboard process running this task on ts stopped') });
  });
});

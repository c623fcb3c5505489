import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/hub.js';
import { taskClient } from '../mcp/tasks-helpers.js';
import type { ServeProcess } from '../oauth/support.js';
import { startServePair, type ServePair } from './serve-pair.js';

/**
 * A downstream task can be reached only through the connection of the hub process that started
 * it. When that process stops cleanly (SIGTERM: a rolling restart), a task request reaching the
 * other replica is answered from the record (README, Operations: several replicas), and the
 * record must not say `working` for the rest of the task's ttl: the task failed, and says the
 * process running it stopped. Alice's task is a 2026-07-28 server's, bob's a 2025-era server's.
 */
const TASK_SERVER = join(ROOT, 'dist/test/fixtures/task-server.js');
const FIXTURE = join(ROOT, 'dist/scripts/fixture-server.js');

describe('downstream tasks whose holder replica stopped', () => {
  let pair: ServePair;
  let a: ServeProcess;
  let b: ServeProcess;

  beforeAll(async () => {
    pair = await startServePair({
      mcpServers: {
        ts: { command: process.execPath, args: [TASK_SERVER, '--stdio'] },
        fx: { command: process.execPath, args: [FIXTURE, '--transport', 'stdio', '--era', '2026'] },
      },
    });
    ({ a, b } = pair);
  }, 90_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('read as failed on the other replica, saying why, and a cancel changes nothing', { timeout: 60_000 }, async () => {
    const alice = String((await taskClient(a.url, pair.alice).tool('fx__slow_compute', { seconds: 120 }))['taskId']);
    const bob = String((await taskClient(a.url, pair.bob).tool('ts__hold', { label: 'orphan' }))['taskId']);
    const onB = { alice: taskClient(b.url, pair.alice), bob: taskClient(b.url, pair.bob) };
    // Both run on A; B reaches them through A.
    expect(await onB.alice.ok('tasks/get', { taskId: alice })).toMatchObject({ status: 'working' });
    expect(await onB.bob.ok('tasks/get', { taskId: bob })).toMatchObject({ status: 'working' });

    await a.kill('SIGTERM');

    const stopped = { status: 'failed', statusMessage: expect.stringMatching(/stopped/), error: { code: -32603, message: expect.stringMatching(/stopped/) } };
    expect(await onB.alice.ok('tasks/get', { taskId: alice })).toMatchObject({
      ...stopped,
      statusMessage: expect.stringContaining('The Switchboard process running this task on fx stopped'),
    });
    // Answered by the record whatever it is asked: a cancel of a finished task is a no-op (SEP-2663).
    expect(await onB.bob.ok('tasks/cancel', { taskId: bob })).toMatchObject({ resultType: 'complete' });
    expect(await onB.bob.ok('tasks/get', { taskId: bob })).toMatchObject(stopped);
    // Each sees only their own task.
    expect((await onB.bob.call('tasks/get', { taskId: alice })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
  });
});

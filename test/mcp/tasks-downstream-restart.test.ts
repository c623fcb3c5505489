import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

/**
 * A downstream task lives in the downstream's process or session, reached only over the connection
 * of the hub process that started it. Another hub process on the same data dir reads the record
 * and says where the task runs; once the starting hub stops, the record says the task was lost,
 * and a task that had finished keeps its result.
 */
const TASK_SERVER = join(ROOT, 'dist/test/fixtures/task-server.js');

const hubs: RunningHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

describe('downstream tasks across hub processes on one data dir', () => {
  it('another process reads the record; a stopped hub leaves its unfinished downstream tasks failed and its finished ones readable', async () => {
    const first = await startHub({ mcpServers: { ts: { command: process.execPath, args: [TASK_SERVER, '--stdio'] } } });
    hubs.push(first);
    const c1 = taskClient(first.url, first.token);
    const done = String((await c1.tool('ts__research', { topic: 'tides', stepMs: 0 }))['taskId']);
    expect(await c1.until(done, ['completed'])).toMatchObject({ result: { content: [{ text: 'report on tides (plain)' }] } });
    const running = String((await c1.tool('ts__hold', { label: 'long' }))['taskId']);

    try {
      // No downstream servers of its own: it still serves the records of downstream tasks.
      const second = await startHub({}, { dataDir: first.dataDir });
      hubs.push(second);
      const c2 = taskClient(second.url, (await second.hub.tokens.create({ user: 'alice' })).token);
      expect(await c2.ok('tasks/get', { taskId: running })).toMatchObject({
        status: 'working',
        statusMessage: 'This task runs on ts through another Switchboard process; ask that process.',
      });
      expect(await c2.ok('tasks/get', { taskId: done })).toMatchObject({ status: 'completed', result: { content: [{ text: 'report on tides (plain)' }] } });

      await first.hub.stop();
      hubs.splice(hubs.indexOf(first), 1);
      expect(await c2.ok('tasks/get', { taskId: running })).toMatchObject({
        status: 'failed',
        error: { code: -32603, message: expect.stringContaining('ts stopped or restarted after this task began') },
      });
      expect(await c2.ok('tasks/get', { taskId: done })).toMatchObject({ status: 'completed' });
      // A cancel of a task that ended is a no-op that keeps its outcome.
      await c2.ok('tasks/cancel', { taskId: running });
      expect(await c2.ok('tasks/get', { taskId: running })).toMatchObject({ status: 'failed' });
    } finally {
      await Promise.all(hubs.splice(0).map((h) => h.stop()));
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});

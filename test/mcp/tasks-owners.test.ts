import { afterEach, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

/**
 * Tasks are their owner's alone (issue 11): another user of the same hub cannot read, cancel or
 * feed one, and the error it gets is the very one an id that never existed gets, so task ids
 * cannot be probed. Two users' clients run side by side on one hub.
 */

let h: RunningHub | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

it("one user cannot get, cancel or update another's task, and cannot tell it exists", async () => {
  h = await startHub({ fixtures: { conformance: true } });
  const alice = taskClient(h.url, h.token);
  const bob = taskClient(h.url, (await h.hub.tokens.create({ user: 'bob' })).token);

  const [aliceTask, bobTask] = await Promise.all([
    alice.tool('slow_compute', { seconds: 60, label: 'alice' }),
    bob.tool('confirm_delete', { filename: 'b.txt' }),
  ]);
  const aliceId = String(aliceTask['taskId']);
  const bobId = String(bobTask['taskId']);
  await bob.until(bobId, ['input_required']);

  const notFound = { code: -32602, message: 'Task not found', data: { code: 'task_not_found' } };
  const never = await bob.call('tasks/get', { taskId: 'task_AAAAAAAAAAAAAAAAAAAAAA' });
  expect(never.error).toEqual(notFound);
  expect((await bob.call('tasks/get', { taskId: aliceId })).error).toEqual(notFound);
  expect((await bob.call('tasks/cancel', { taskId: aliceId })).error).toEqual(notFound);
  expect((await bob.call('tasks/update', { taskId: aliceId, inputResponses: {} })).error).toEqual(notFound);
  expect((await alice.call('tasks/update', { taskId: bobId, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } })).error).toEqual(
    notFound,
  );
  expect((await alice.call('tasks/cancel', { taskId: bobId })).error).toEqual(notFound);

  // Neither attempt touched the other's task.
  expect(await alice.ok('tasks/get', { taskId: aliceId })).toMatchObject({ taskId: aliceId, status: 'working' });
  expect(await bob.ok('tasks/get', { taskId: bobId })).toMatchObject({ taskId: bobId, status: 'input_required' });

  // Each owner still drives their own.
  await bob.ok('tasks/update', { taskId: bobId, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } });
  expect(await bob.until(bobId, ['completed'])).toMatchObject({ result: { content: [{ text: 'delete b.txt: accept {"confirm":true}' }] } });
  await alice.ok('tasks/cancel', { taskId: aliceId });
  expect(await alice.ok('tasks/get', { taskId: aliceId })).toMatchObject({ status: 'cancelled' });
});

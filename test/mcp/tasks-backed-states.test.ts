/**
 * Every outbox job state as the task a client reads (issue 11): the registry and the outbox on one
 * real SQLite store, jobs moved through the outbox's own guarded transitions (as its worker moves
 * them), read back through the task service. The end-to-end tests reach working, done and
 * cancelled; dead and sent_unconfirmed need a worker failing on cue, which this drives directly.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { defineIntegration } from '../../src/integrations/definition.js';
import { answerOfJob } from '../../src/integrations/outbound.js';
import { OutboxJobBacking } from '../../src/mcp/tasks/backings/outbox-job.js';
import { TaskService } from '../../src/mcp/tasks/service.js';
import { SqliteTasks } from '../../src/mcp/tasks/sqlite.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { Job } from '../../src/outbox/types.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const owner = { tenant: 'default', user: 'alice' };
const definition = defineIntegration({
  name: 'notes',
  title: 'Notes',
  apiBaseUrl: 'https://api.notes.example',
  auth: { type: 'apiKey', header: 'x-api-key' },
  tools: { create: { description: 'Creates a note', method: 'POST', path: '/notes', input: { type: 'object', properties: { text: { type: 'string' } } } } },
});

describe('outbox job states as MCP Task states', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let outbox: SqliteOutbox;
  let events: JobEvents;
  let tasks: TaskService;
  let changed: string[];
  const clock = manualClock(Date.UTC(2026, 5, 1));

  beforeEach(() => {
    dir = tmpDir();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    events = new JobEvents();
    tasks = new TaskService({ repo: new SqliteTasks(db), clock, log: silentLogger() });
    tasks.use(
      new OutboxJobBacking({
        get: (id, o) => outbox.get(id, o),
        cancel: async (id, o) => {
          const r = await outbox.cancel(id, o);
          if (r.outcome === 'cancelled') events.publish(r.job);
          return r;
        },
        on: (id, l) => events.on(id, l),
        render: async (job) => answerOfJob(definition, job),
      }),
    );
    changed = [];
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  /** A queued job of alice's as a task, and the job claimed and sent by worker `w`. */
  const sentTask = async (text: string) => {
    const { job } = await outbox.enqueue({ ...owner, connectionId: 'app', integration: 'notes', tool: 'create', arguments: { text } });
    const task = await tasks.createBacked(owner, 'notes__create', { kind: 'outbox_job', id: job.id });
    tasks.watch(task.id, () => changed.push(task.id));
    expect(task).toMatchObject({ status: 'working', statusMessage: `queued (job ${job.id})` });
    const claimed = await outbox.claim({ owner: 'w', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
    expect(claimed.jobs.map((j) => j.id)).toContain(job.id);
    expect(await outbox.markSent(job.id, 'w', 60_000)).toBe(true);
    return { job, taskId: task.id };
  };
  const settle = async (job: Job) => events.publish((await outbox.get(job.id, owner))!);

  it('sending is working and a cancel then is a no-op; done is completed with the rendered answer, and the watchers hear it', async () => {
    const { job, taskId } = await sentTask('hello');
    expect(await tasks.get(owner, taskId)).toMatchObject({ status: 'working', statusMessage: `sent to the provider, waiting for its answer (job ${job.id})` });
    expect(await tasks.cancel(owner, taskId)).toBe('too_late');
    expect((await tasks.get(owner, taskId)).status).toBe('working');
    expect(await outbox.complete(job.id, 'w', { status: 201, body: '{"id":"n1","text":"hello"}' })).toBe(true);
    await settle(job);
    expect(changed).toEqual([taskId]);
    const done = await tasks.get(owner, taskId);
    expect(done.status).toBe('completed');
    expect(done.result).toEqual(answerOfJob(definition, (await outbox.get(job.id, owner))!));
    expect(done.result).toMatchObject({ structuredContent: { id: 'n1', text: 'hello' } });
  });

  it('dead and sent_unconfirmed are failed with the reason the direct call gives', async () => {
    const dead = await sentTask('five hundred');
    expect(await outbox.fail(dead.job.id, 'w', { error: 'HTTP 503 from the provider', retryAt: 'never', exhausted: true })).toBe('dead');
    await settle(dead.job);
    // What the direct call answers (an isError result), not a JSON-RPC error: tasks/result returns it.
    const deadView = await tasks.get(owner, dead.taskId);
    expect(deadView).toMatchObject({
      status: 'failed',
      statusMessage: expect.stringMatching(new RegExp(`did not complete .*dead.*HTTP 503.*\\(job ${dead.job.id}\\)$`)),
      result: { isError: true, content: [{ type: 'text', text: expect.stringMatching(/HTTP 503/) }] },
    });
    expect(deadView.error).toBeUndefined();

    const cut = await sentTask('cut off');
    expect(await outbox.unconfirmed(cut.job.id, 'w', 'the connection ended')).toBe(true);
    await settle(cut.job);
    expect(await tasks.get(owner, cut.taskId)).toMatchObject({
      status: 'failed',
      statusMessage: expect.stringContaining('may or may not have been applied'),
      result: { isError: true },
    });
    expect(changed).toEqual([dead.taskId, cut.taskId]);
  });

  it('a long failure is cut on a code point: an emoji across the cut is left out whole, never half of it', async () => {
    const { job, taskId } = await sentTask('emoji');
    // The provider refused with a body of emoji, each an astral character (two UTF-16 units): with
    // a prefix of either parity before them, one of the two answers is split at 2,000 units.
    for (const pad of ['', 'x']) {
      const body = `${pad}${'😀'.repeat(1500)}`;
      const { job: j, taskId: t } = pad === '' ? { job, taskId } : await sentTask('emoji-odd');
      expect(await outbox.fail(j.id, 'w', { error: 'the provider answered 422', retryAt: 'never', result: { status: 422, body } })).toBe('failed');
      await settle(j);
      const message = (await tasks.get(owner, t)).statusMessage ?? '';
      expect(message).toMatch(new RegExp(`😀 \\(job ${j.id}\\)$`, 'u'));
      // A lone surrogate is the only code point of category Cs a u-mode pattern can meet.
      expect(message).not.toMatch(/\p{Cs}/u);
    }
  });

  it('a queued job cancelled through its task is cancelled in the outbox; the task is never tasks/update-able', async () => {
    const { job } = await outbox.enqueue({ ...owner, connectionId: 'app', integration: 'notes', tool: 'create', arguments: { text: 'no' } });
    const task = await tasks.createBacked(owner, 'notes__create', { kind: 'outbox_job', id: job.id });
    await tasks.cancel(owner, task.id);
    expect(await tasks.get(owner, task.id)).toMatchObject({ status: 'cancelled' });
    expect((await outbox.get(job.id, owner))?.state).toBe('cancelled');
    await expect(tasks.supplyInput(owner, task.id, {})).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('tasks/update does not apply'),
    });
    // Another user: the one not-found error.
    await expect(tasks.get({ tenant: 'default', user: 'bob' }, task.id)).rejects.toMatchObject({ code: -32602, message: 'Task not found' });
  });

  it('a finished task never changes: a retried failed job, a purged done job; lastUpdatedAt is its last change', async () => {
    const failed = await sentTask('refused');
    const createdAt = clock.now();
    clock.advance(2_000);
    expect(await outbox.fail(failed.job.id, 'w', { error: 'the provider answered 422', retryAt: 'never' })).toBe('failed');
    await settle(failed.job);
    const before = await tasks.get(owner, failed.taskId);
    expect(before).toMatchObject({ status: 'failed', createdAt, updatedAt: createdAt + 2_000 });
    // `queue retry`, and the retried job sent and done: the task stays as it was told.
    clock.advance(1_000);
    expect(await outbox.retry(failed.job.id)).toMatchObject({ outcome: 'retried' });
    await outbox.claim({ owner: 'w', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
    expect(await outbox.markSent(failed.job.id, 'w', 60_000)).toBe(true);
    expect(await outbox.complete(failed.job.id, 'w', { status: 201, body: '{}' })).toBe(true);
    await settle(failed.job);
    expect(await tasks.get(owner, failed.taskId)).toEqual(before);
    expect(await tasks.cancel(owner, failed.taskId)).toBe('terminal');

    const done = await sentTask('kept');
    clock.advance(500);
    expect(await outbox.complete(done.job.id, 'w', { status: 201, body: '{"id":"n2","text":"kept"}' })).toBe(true);
    await settle(done.job);
    const completed = await tasks.get(owner, done.taskId);
    expect(completed).toMatchObject({ status: 'completed', updatedAt: clock.now() });
    clock.advance(1_000);
    expect(await outbox.purge('done', clock.now())).toBeGreaterThan(0);
    expect(await outbox.get(done.job.id, owner)).toBeUndefined();
    expect(await tasks.get(owner, done.taskId)).toEqual(completed);
    const listed = await tasks.list(owner, undefined, 10);
    expect(listed.map((t) => [t.id, t.status])).toEqual([
      [failed.taskId, 'failed'],
      [done.taskId, 'completed'],
    ]);
  });

  it('a list cursor naming no task of the caller’s is invalid, not an empty page', async () => {
    const bob = { tenant: 'default', user: 'bob' };
    const a = await sentTask('a');
    clock.advance(1);
    await sentTask('b');
    const { job } = await outbox.enqueue({ ...bob, connectionId: 'app', integration: 'notes', tool: 'create', arguments: { text: 'c' } });
    const bobs = await tasks.createBacked(bob, 'notes__create', { kind: 'outbox_job', id: job.id });
    expect((await tasks.list(owner, a.taskId, 10)).length).toBe(1);
    expect((await tasks.list(bob, undefined, 10)).map((t) => t.id)).toEqual([bobs.id]);
    for (const [who, cursor] of [
      [owner, bobs.id],
      [bob, a.taskId],
      [owner, 'task_doesnotexist'],
    ] as const)
      await expect(tasks.list(who, cursor, 10)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('invalid pagination cursor') });
  });

  it('a job waiting to be sent again counts its attempts apart from its rate-limit answers', async () => {
    const { job, taskId } = await sentTask('again');
    expect(await outbox.fail(job.id, 'w', { error: 'the provider answered 429', retryAt: clock.now() + 1_000, paced: true })).toBe('queued');
    expect((await tasks.get(owner, taskId)).statusMessage).toBe(
      `waiting to be sent again after 1 rate-limit answer (job ${job.id}): the provider answered 429`,
    );
    clock.advance(1_000);
    await outbox.claim({ owner: 'w', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
    expect(await outbox.markSent(job.id, 'w', 60_000)).toBe(true);
    expect(await outbox.fail(job.id, 'w', { error: 'the provider answered 503', retryAt: clock.now() + 1_000 })).toBe('queued');
    expect((await tasks.get(owner, taskId)).statusMessage).toBe(
      `waiting to be sent again after 1 attempt and 1 rate-limit answer (job ${job.id}): the provider answered 503`,
    );
  });
});

/**
 * Agent task retention (issue 10): the purge job times out unfinished tasks past their expiry and
 * deletes finished ones once they have been final for the retention, on real SQLite with an
 * injected clock. Unfinished tasks are never deleted; a callback racing the sweep keeps its outcome.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { SqliteAgentTasks } from '../../src/agents/tasks/sqlite.js';
import { DEFAULT_TASK_RETENTION_MS, TaskPurgeJob } from '../../src/agents/tasks/purge.js';
import { newTaskId } from '../../src/agents/tasks/types.js';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('the agent task purge job', () => {
  let clock: ReturnType<typeof manualClock>;
  let store: SqliteAgentTasks;
  let ended: Array<[string, string]>;
  let job: TaskPurgeJob;
  const owner = { tenant: 'default', user: 'alice' };
  const make = (ttlMs: number, agent = 'echo_async') => store.create({ id: newTaskId(), owner, agent, ownerProcess: 'p1', expiresAt: clock.now() + ttlMs });

  beforeEach(() => {
    clock = manualClock();
    const db = openDb({ file: ':memory:', clock });
    const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock });
    store = new SqliteAgentTasks(db, vault, clock);
    ended = [];
    job = new TaskPurgeJob({
      store,
      clock,
      log: silentLogger(),
      retentionMs: DEFAULT_TASK_RETENTION_MS,
      chunk: 2,
      metered: { taskEnded: (agent, end) => void ended.push([agent, end.state]) },
    });
  });

  it('keeps finished tasks for 7 days by default, then deletes them in chunks; running ones stay', async () => {
    expect(DEFAULT_TASK_RETENTION_MS).toBe(7 * DAY);
    const done = await Promise.all([make(DAY), make(DAY), make(DAY)]);
    for (const t of done) expect(await store.finish(t.id, { state: 'completed', result: { ok: true } })).toBe(true);
    const running = await make(30 * DAY);
    await store.accepted(running.id, { remoteTaskId: 'task_1', answeredBy: 'echo_async' });
    clock.advance(2 * DAY);
    const failed = await make(DAY);
    await store.finish(failed.id, { state: 'failed', error: 'tool_unavailable: down' });

    clock.advance(5 * DAY - 1);
    expect(await job.runOnce()).toEqual({ expired: 0, purged: 0 });
    expect(await store.get(done[0]!.id)).toMatchObject({ state: 'completed', result: { ok: true } });

    clock.advance(2);
    expect(await job.runOnce()).toEqual({ expired: 0, purged: 3 });
    for (const t of done) expect(await store.get(t.id)).toBeUndefined();
    expect((await store.get(failed.id))?.state).toBe('failed');
    expect((await store.get(running.id))?.state).toBe('running');

    clock.advance(2 * DAY);
    expect(await job.runOnce()).toEqual({ expired: 0, purged: 1 });
    expect(await store.get(failed.id)).toBeUndefined();
    expect((await store.get(running.id))?.state).toBe('running');
    expect(ended).toEqual([]);
  });

  it('times out unfinished tasks past their expiry (counted as their agent timing out), then purges them after the retention', async () => {
    const soon = await make(HOUR, 'quick');
    await store.accepted(soon.id, { remoteTaskId: 'task_2', answeredBy: 'quick_fallback' });
    const never = await make(HOUR, 'quick');
    const later = await make(10 * DAY, 'quick');
    clock.advance(HOUR);
    expect(await job.runOnce()).toEqual({ expired: 2, purged: 0 });
    expect(await store.get(soon.id)).toMatchObject({ state: 'timed_out', error: 'no answer came before the task expired' });
    expect((await store.get(never.id))?.state).toBe('timed_out');
    expect((await store.get(later.id))?.state).toBe('submitted');
    expect(ended.sort()).toEqual([
      ['quick', 'timed_out'],
      ['quick_fallback', 'timed_out'],
    ]);
    // A callback that arrives after the sweep finds the task final: it cannot reopen it.
    expect(await store.finish(soon.id, { state: 'completed', result: 'late' })).toBe(false);

    clock.advance(7 * DAY + 1);
    expect(await job.runOnce()).toEqual({ expired: 0, purged: 2 });
    expect(await store.get(soon.id)).toBeUndefined();
    expect((await store.get(later.id))?.state).toBe('submitted');
  });

  it('a retention from the hub options is the one used', async () => {
    const short = new TaskPurgeJob({ store, clock, log: silentLogger(), retentionMs: HOUR });
    const t = await make(DAY);
    await store.finish(t.id, { state: 'cancelled', error: 'the caller cancelled the call' });
    clock.advance(HOUR - 1);
    expect((await short.runOnce()).purged).toBe(0);
    clock.advance(2);
    expect((await short.runOnce()).purged).toBe(1);
  });
});

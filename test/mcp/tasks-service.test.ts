import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import type { AgentTask } from '../../src/agents/tasks/types.js';
import { AgentTaskBacking } from '../../src/mcp/tasks/backings/agent-task.js';
import { TaskService } from '../../src/mcp/tasks/service.js';
import type { TaskRecord } from '../../src/mcp/tasks/types.js';
import { SqliteTasks } from '../../src/mcp/tasks/sqlite.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb } from '../../src/store/db.js';
import { eventually } from '../helpers/hub.js';

/** The registry's own rules, on ':memory:' SQLite and an injected clock: the per-owner bound and the purge. */

const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };

function service(maxRunningPerOwner?: number) {
  const clock = manualClock();
  const db = openDb({ file: ':memory:', clock });
  const tasks = new TaskService({ repo: new SqliteTasks(db), clock, log: silentLogger(), ttlMs: 1000, ...(maxRunningPerOwner ? { maxRunningPerOwner } : {}) });
  const rows = () => db.prepare('SELECT count(*) FROM mcp_tasks').pluck().get() as number;
  return { clock, tasks, rows };
}

/** Work that runs until its task is cancelled. */
const forever = ({ signal }: { signal: AbortSignal }) =>
  new Promise<Record<string, unknown>>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));

describe('TaskService', () => {
  it('bounds the tasks one owner runs at once, and frees a place when one is cancelled', async () => {
    const { tasks } = service(2);
    const first = await tasks.runLocal(alice, 'slow', forever);
    await tasks.runLocal(alice, 'slow', forever);
    await expect(tasks.runLocal(alice, 'slow', forever)).rejects.toMatchObject({ code: 'limit_reached' });
    // Another owner is not held back by alice's tasks.
    await expect(tasks.runLocal(bob, 'slow', forever)).resolves.toMatchObject({ status: 'working' });
    await tasks.cancel(alice, first.id);
    expect(await tasks.get(alice, first.id)).toMatchObject({ status: 'cancelled' });
    await expect(tasks.runLocal(alice, 'slow', forever)).resolves.toMatchObject({ status: 'working' });
    await tasks.close();
  });

  it('purges expired records on a later create, and never serves one past its ttl', async () => {
    const { clock, tasks, rows } = service();
    const old = await tasks.runLocal(alice, 'quick', async () => ({ content: [] }));
    clock.advance(1000);
    await expect(tasks.get(alice, old.id)).rejects.toMatchObject({ code: -32602, message: 'Task not found' });
    expect(rows()).toBe(1); // hidden, not yet deleted
    clock.advance(60_000);
    await tasks.runLocal(alice, 'quick', async () => ({ content: [] }));
    expect(rows()).toBe(1); // the old one went, the new one is there
    await tasks.close();
  });
});

describe('a local task that answers isError', () => {
  it('cuts its status message on a code point boundary, never leaving half an emoji', async () => {
    const { tasks } = service();
    // 1,999 units, then emoji: the 2,000-unit cut falls between the two halves of the first one.
    const text = `${'x'.repeat(1999)}${'\u{1F600}'.repeat(10)}`;
    const t = await tasks.runLocal(alice, 'failing', async () => ({ content: [{ type: 'text', text }], isError: true }));
    const done = await eventually(async () => {
      const v = await tasks.get(alice, t.id);
      return v.status === 'working' ? undefined : v;
    });
    expect(done.status).toBe('failed');
    expect(done.statusMessage).toBe('x'.repeat(1999));
    await tasks.close();
  });
});

describe('an agent task that failed', () => {
  it('cuts its status message on a code point boundary, never leaving half an emoji', async () => {
    const text = `${'x'.repeat(1999)}${'\u{1F600}'.repeat(10)}`;
    const failed = { id: 'at_1', owner: alice, agent: 'agent__a', answeredBy: null, state: 'failed', updatedAt: 0 } as unknown as AgentTask;
    const backing = new AgentTaskBacking({
      read: async () => failed,
      cancel: async () => false,
      on: () => () => {},
      render: () => ({ content: [{ type: 'text', text }], isError: true }),
    });
    const record = { id: 'task_1', owner: alice, backing: { kind: 'agent_task', id: 'at_1' } } as unknown as TaskRecord;
    const state = await backing.state(record);
    expect(state.statusMessage).toBe('x'.repeat(1999));
  });
});

describe('TaskService.list', () => {
  it('fills a page past the records of a kind this process does not serve, so a listing does not end early', async () => {
    const clock = manualClock();
    const db = openDb({ file: ':memory:', clock });
    const repo = new SqliteTasks(db);
    const tasks = new TaskService({ repo, clock, log: silentLogger() });
    // An agent task made by another process on the data dir (this one runs no agents), then 51 of this one's.
    const now = clock.now();
    const base = { owner: alice, tool: 'agent__a', status: 'working', ttlMs: 3_600_000, expiresAt: now + 3_600_000, createdAt: now, updatedAt: now } as const;
    await repo.create({ ...base, id: 'task_agent', backing: { kind: 'agent_task', id: 'at_1' } });
    const mine: string[] = [];
    for (let i = 0; i < 51; i++) {
      clock.advance(1);
      mine.push((await tasks.runLocal(alice, 'quick', async () => ({ content: [] }))).id);
    }
    // tasks/list asks for one more than it shows (50): 51 served tasks say a next page exists.
    const page = await tasks.list(alice, undefined, 51);
    expect(page.map((t) => t.id)).toEqual(mine);
    await tasks.close();
  });
});

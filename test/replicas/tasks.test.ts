import { beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PROCESS_ID, processOfHolder, taskHolderId } from '../../src/mcp/downstream/held-calls.js';
import { SqliteTasks } from '../../src/mcp/tasks/sqlite.js';
import type { TaskRecord, TaskStatus } from '../../src/mcp/tasks/types.js';
import { taskHolders } from '../../src/replicas/tasks.js';
import { openDb } from '../../src/store/db.js';

const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };
const OTHER = 'host-b/4242/bbbbbbbb';

describe('which replica a task request needs', () => {
  const clock = manualClock();
  let repo: SqliteTasks;
  let holderOf: ReturnType<typeof taskHolders>;
  beforeEach(() => {
    repo = new SqliteTasks(openDb({ file: ':memory:', clock }));
    holderOf = taskHolders(repo, clock);
  });

  async function task(id: string, backing: TaskRecord['backing'], status: TaskStatus = 'working'): Promise<void> {
    const now = clock.now();
    await repo.create({ id, owner: alice, backing, tool: 't', status, ttlMs: 60_000, expiresAt: now + 60_000, createdAt: now, updatedAt: now });
  }

  it('a local task: its holder for update and cancel, nobody for get (the record answers)', async () => {
    await task('t1', { kind: 'local', id: `${OTHER}#1a2b3c4d` });
    expect(await holderOf(alice, 't1', 'tasks/update')).toBe(OTHER);
    expect(await holderOf(alice, 't1', 'tasks/cancel')).toBe(OTHER);
    expect(await holderOf(alice, 't1', 'tasks/get')).toBeUndefined();
  });

  it('a downstream task: its holder for every method', async () => {
    await task('t2', { kind: 'downstream', id: JSON.stringify({ process: `${OTHER}#99`, link: 'l', server: 'ts', task: 'd1' }) });
    for (const m of ['tasks/get', 'tasks/update', 'tasks/cancel']) expect(await holderOf(alice, 't2', m)).toBe(OTHER);
  });

  it("nobody for a finished task, a store-backed one, someone else's, an unknown one, or a record from before holder ids", async () => {
    await task('done', { kind: 'local', id: `${OTHER}#1` }, 'completed');
    await task('agent', { kind: 'agent_task', id: 'agt_1' });
    await task('job', { kind: 'outbox_job', id: 'job_1' });
    await task('bad', { kind: 'downstream', id: 'not json' });
    await task('old', { kind: 'local', id: '0b1e8f8a-0000-4000-8000-000000000000' });
    expect(await holderOf(alice, 'done', 'tasks/cancel')).toBeUndefined();
    expect(await holderOf(alice, 'agent', 'tasks/cancel')).toBeUndefined();
    expect(await holderOf(alice, 'job', 'tasks/get')).toBeUndefined();
    expect(await holderOf(alice, 'bad', 'tasks/get')).toBeUndefined();
    expect(await holderOf(bob, 'agent', 'tasks/cancel')).toBeUndefined();
    await task('alices', { kind: 'local', id: `${OTHER}#1` });
    expect(await holderOf(bob, 'alices', 'tasks/cancel')).toBeUndefined();
    expect(await holderOf(alice, 'nope', 'tasks/cancel')).toBeUndefined();
    // A record an older hub wrote names a random id: it matches no replica, so it is served here.
    expect(await holderOf(alice, 'old', 'tasks/update')).toBe('0b1e8f8a-0000-4000-8000-000000000000');
  });

  it('holder ids start with this process id and keep two hubs in one process apart', () => {
    const one = taskHolderId('aaaaaaaa-1');
    const two = taskHolderId('bbbbbbbb-2');
    expect(one).not.toBe(two);
    expect(processOfHolder(one)).toBe(PROCESS_ID);
    expect(processOfHolder(two)).toBe(PROCESS_ID);
    expect(processOfHolder('plain-id')).toBe('plain-id');
  });
});

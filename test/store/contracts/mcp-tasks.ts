import { beforeEach, describe, expect, it } from 'vitest';
import type { TaskRecord, TaskRepository } from '../../../src/mcp/tasks/types.js';

export interface McpTasksHarness {
  repo: TaskRepository;
  /** A second repository on the same store (another hub process on the data dir). */
  other: TaskRepository;
  now(): number;
}

const alice = { tenant: 'default', user: 'alice' };
const bob = { tenant: 'default', user: 'bob' };

function record(id: string, now: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    owner: alice,
    backing: { kind: 'local', id: 'process-1' },
    tool: 'slow_compute',
    status: 'working',
    ttlMs: 60_000,
    expiresAt: now + 60_000,
    createdAt: now,
    updatedAt: now,
    ...extra,
  };
}

export function mcpTasksContract(name: string, make: () => McpTasksHarness | Promise<McpTasksHarness>): void {
  describe(`TaskRepository contract: ${name}`, () => {
    let h: McpTasksHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('reads a record back whole, from any instance on the store, for its owner only', async () => {
      const now = h.now();
      const r = record('t1', now, { backing: { kind: 'agent_task', id: 'agt_1' }, statusMessage: 'queued at the agent' });
      await h.repo.create(r);
      expect(await h.other.get('t1', alice, now)).toEqual(r);
      expect(await h.other.get('t1', bob, now)).toBeUndefined();
      expect(await h.other.get('t1', { tenant: 'other', user: 'alice' }, now)).toBeUndefined();
      expect(await h.repo.get('t2', alice, now)).toBeUndefined();
    });

    it('moves an unfinished task, keeps JSON results and errors, and never moves a finished one again', async () => {
      const now = h.now();
      await h.repo.create(record('t1', now));
      const inputRequests = { confirm: { method: 'elicitation/create', params: { message: 'Sure?' } } };
      expect(await h.repo.update('t1', { status: 'input_required', inputRequests }, now + 1)).toBe(true);
      expect(await h.repo.get('t1', alice, now + 1)).toMatchObject({ status: 'input_required', inputRequests, updatedAt: now + 1 });

      const result = { content: [{ type: 'text', text: 'done' }], isError: false };
      expect(await h.repo.update('t1', { status: 'completed', result }, now + 2)).toBe(true);
      const done = await h.repo.get('t1', alice, now + 2);
      expect(done).toMatchObject({ status: 'completed', result, updatedAt: now + 2 });
      expect(done).not.toHaveProperty('inputRequests');

      // A cancel that lands after completion changes nothing (SEP-2663: a terminal status is final).
      expect(await h.other.update('t1', { status: 'cancelled' }, now + 3)).toBe(false);
      expect(await h.repo.get('t1', alice, now + 3)).toMatchObject({ status: 'completed', updatedAt: now + 2 });

      await h.repo.create(record('t2', now));
      expect(await h.repo.update('t2', { status: 'failed', error: { code: -32603, message: 'broke', data: { why: 1 } } }, now + 1)).toBe(true);
      expect(await h.repo.get('t2', alice, now + 1)).toMatchObject({ status: 'failed', error: { code: -32603, message: 'broke', data: { why: 1 } } });
      expect(await h.repo.update('missing', { status: 'completed' }, now)).toBe(false);
    });

    it('hides a record from its expiry on, and purges only expired ones', async () => {
      const now = h.now();
      await h.repo.create(record('old', now, { ttlMs: 1000, expiresAt: now + 1000 }));
      await h.repo.create(record('new', now, { ttlMs: 5000, expiresAt: now + 5000 }));
      expect(await h.repo.get('old', alice, now + 999)).toBeDefined();
      expect(await h.repo.get('old', alice, now + 1000)).toBeUndefined();
      expect(await h.repo.update('old', { status: 'completed' }, now + 1000)).toBe(false);
      expect(await h.repo.purgeExpired(now + 1000)).toBe(1);
      expect(await h.repo.purgeExpired(now + 1000)).toBe(0);
      expect(await h.repo.get('old', alice, now)).toBeUndefined();
      expect(await h.repo.get('new', alice, now + 1000)).toMatchObject({ id: 'new' });
    });

    it('lists the owner’s unexpired tasks oldest first, a page at a time, with a cursor only the owner can use', async () => {
      const now = h.now();
      for (const [i, id] of ['a3', 'a1', 'a2'].entries()) await h.repo.create(record(id, now + i));
      await h.repo.create(record('b1', now, { owner: bob }));
      await h.repo.create(record('gone', now, { ttlMs: 10, expiresAt: now + 10 }));
      const ids = (rs: TaskRecord[]) => rs.map((r) => r.id);
      expect(ids(await h.other.list(alice, now + 10, { limit: 10 }))).toEqual(['a3', 'a1', 'a2']);
      expect(ids(await h.repo.list(alice, now + 10, { limit: 2 }))).toEqual(['a3', 'a1']);
      expect(ids(await h.repo.list(alice, now + 10, { after: 'a1', limit: 2 }))).toEqual(['a2']);
      expect(ids(await h.repo.list(bob, now, { limit: 10 }))).toEqual(['b1']);
      // Another user's task id as a cursor is no position at all.
      expect(ids(await h.repo.list(bob, now, { after: 'a1', limit: 10 }))).toEqual([]);
    });
  });
}

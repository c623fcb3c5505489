import { beforeEach, describe, expect, it } from 'vitest';
import { newTaskId, type AgentTaskStore, type NewAgentTask } from '../../../src/agents/tasks/types.js';

/** Two handles on one store stand for two hub processes sharing it (a callback may land on either). */
export interface AgentTasksHarness {
  tasks: AgentTaskStore;
  other: AgentTaskStore;
  advance: (ms: number) => void;
  now: () => number;
  /** The stored result column as it is on disk, for the sealing check. */
  storedResult: (id: string) => string | null | Promise<string | null>;
}

const ALICE = { tenant: 't1', user: 'alice' };
const BOB = { tenant: 't1', user: 'bob' };

export function agentTasksContract(name: string, make: () => AgentTasksHarness | Promise<AgentTasksHarness>): void {
  describe(`AgentTaskStore contract: ${name}`, () => {
    let h: AgentTasksHarness;
    const fresh = (over: Partial<NewAgentTask> = {}): NewAgentTask => ({
      id: newTaskId(),
      owner: ALICE,
      agent: 'triage',
      ownerProcess: 'host:1:0:abcd',
      expiresAt: h.now() + 60_000,
      ...over,
    });
    beforeEach(async () => {
      h = await make();
    });

    it('makes 128-bit url-safe ids, never the same twice', () => {
      const ids = new Set(Array.from({ length: 1000 }, newTaskId));
      expect(ids.size).toBe(1000);
      for (const id of ids) expect(id).toMatch(/^at_[A-Za-z0-9_-]{22}$/);
    });

    it('stores a submitted task and shows it to its owner only', async () => {
      const t = await h.tasks.create(fresh());
      expect(t).toMatchObject({ state: 'submitted', owner: ALICE, agent: 'triage', answeredBy: null, remoteTaskId: null, result: undefined, error: null });
      expect(await h.other.get(t.id, ALICE)).toMatchObject({ id: t.id, state: 'submitted' });
      expect(await h.other.get(t.id, BOB)).toBeUndefined();
      expect(await h.other.get(t.id, { tenant: 't2', user: 'alice' })).toBeUndefined();
      expect(await h.tasks.get('at_unknownunknownunknow')).toBeUndefined();
    });

    it('binds a task to one platform task: the same id again is fine, another is refused', async () => {
      const t = await h.tasks.create(fresh());
      expect(await h.tasks.accepted(t.id, { remoteTaskId: 'task_A', answeredBy: 'triage' })).toBe(true);
      expect(await h.other.get(t.id)).toMatchObject({ state: 'running', remoteTaskId: 'task_A', answeredBy: 'triage' });
      expect(await h.other.accepted(t.id, { remoteTaskId: 'task_A' })).toBe(true);
      expect(await h.other.accepted(t.id, { remoteTaskId: 'task_B' })).toBe(false);
      expect((await h.tasks.get(t.id))?.remoteTaskId).toBe('task_A');
    });

    it('notes the agent being tried while no platform took the task; the taker stays once bound', async () => {
      const t = await h.tasks.create(fresh());
      expect(await h.tasks.trying(t.id, 'triage')).toBe(true);
      expect(await h.other.trying(t.id, 'basic')).toBe(true);
      expect(await h.tasks.get(t.id)).toMatchObject({ state: 'submitted', answeredBy: 'basic' });
      expect(await h.other.accepted(t.id, { remoteTaskId: 'task_A' })).toBe(true);
      expect(await h.tasks.trying(t.id, 'triage')).toBe(false);
      expect(await h.tasks.get(t.id)).toMatchObject({ state: 'running', answeredBy: 'basic', remoteTaskId: 'task_A' });
    });

    it('a callback that outruns the submission binds first; the submission then names the agent', async () => {
      const t = await h.tasks.create(fresh());
      expect(await h.other.accepted(t.id, { remoteTaskId: 'task_A' })).toBe(true);
      expect(await h.tasks.finish(t.id, { state: 'completed', result: { ok: 1 } })).toBe(true);
      expect(await h.tasks.accepted(t.id, { remoteTaskId: 'task_A', answeredBy: 'triage' })).toBe(true);
      expect(await h.tasks.get(t.id)).toMatchObject({ state: 'completed', answeredBy: 'triage', result: { ok: 1 } });
    });

    it('finishes once: the first final state wins, a late callback changes nothing', async () => {
      const t = await h.tasks.create(fresh());
      await h.tasks.accepted(t.id, { remoteTaskId: 'task_A', answeredBy: 'triage' });
      h.advance(5);
      expect(await h.tasks.finish(t.id, { state: 'cancelled', error: 'the caller cancelled the call' })).toBe(true);
      const [a, b] = await Promise.all([
        h.tasks.finish(t.id, { state: 'completed', result: 'late' }),
        h.other.finish(t.id, { state: 'failed', error: 'late too' }),
      ]);
      expect([a, b]).toEqual([false, false]);
      expect(await h.tasks.get(t.id)).toMatchObject({
        state: 'cancelled',
        error: 'the caller cancelled the call',
        result: undefined,
        updatedAt: t.createdAt + 5,
      });
    });

    it('seals the result: the stored column is not the output, and reads back whole', async () => {
      const t = await h.tasks.create(fresh());
      const output = { reply: 'the secret plan is 42', nested: [1, { a: null }] };
      expect(await h.tasks.finish(t.id, { state: 'completed', result: output })).toBe(true);
      const stored = await h.storedResult(t.id);
      expect(stored).not.toBeNull();
      expect(stored).not.toContain('secret plan');
      expect((await h.other.get(t.id, ALICE))?.result).toEqual(output);
    });

    it('keeps the failures a submission met, sealed, with the taker or the final state; later writes without any keep them', async () => {
      const before = [{ agent: 'triage', reason: 'status' as const, message: 'agent triage answered 503: the secret plan' }];
      const t = await h.tasks.create(fresh());
      expect(await h.tasks.accepted(t.id, { remoteTaskId: 'task_A', answeredBy: 'basic', failures: before })).toBe(true);
      expect(await h.other.finish(t.id, { state: 'completed', result: 'ok' })).toBe(true);
      expect(await h.tasks.get(t.id)).toMatchObject({ state: 'completed', answeredBy: 'basic', failures: before });
      const none = await h.tasks.create(fresh());
      const all = [
        ...before,
        { agent: 'basic', reason: 'agent_error' as const, message: 'agent basic reported tool_unavailable: down', detail: 'tool_unavailable' },
      ];
      expect(await h.tasks.finish(none.id, { state: 'failed', error: 'no agent answered', failures: all })).toBe(true);
      expect((await h.other.get(none.id, ALICE))?.failures).toEqual(all);
      expect((await h.tasks.get((await h.tasks.create(fresh())).id))?.failures).toEqual([]);
    });

    it('keeps a bounded error text', async () => {
      const t = await h.tasks.create(fresh());
      expect(await h.tasks.finish(t.id, { state: 'failed', error: 'x'.repeat(5000) })).toBe(true);
      expect((await h.tasks.get(t.id))?.error).toHaveLength(1000);
      // Cut on a code point: an emoji across the bound is left out whole, not halved into a lone surrogate.
      const emoji = await h.tasks.create(fresh());
      const failures = [{ agent: 'triage', reason: 'agent_error' as const, message: `${'y'.repeat(999)}😀 and more` }];
      expect(await h.tasks.finish(emoji.id, { state: 'failed', error: `${'x'.repeat(999)}😀 and more`, failures })).toBe(true);
      const read = await h.tasks.get(emoji.id);
      expect(read?.error).toBe('x'.repeat(999));
      expect(read?.failures[0]?.message).toBe('y'.repeat(999));
    });

    it('refuses a state outside the union in SQL', async () => {
      const t = await h.tasks.create(fresh());
      await expect(h.tasks.finish(t.id, { state: 'exploded' as 'failed', error: 'no' })).rejects.toThrow(/check constraint/i);
      expect((await h.tasks.get(t.id))?.state).toBe('submitted');
    });
  });
}

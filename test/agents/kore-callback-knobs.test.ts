/**
 * The sandbox's Kore agents honour the async failure-injection knobs the upagents marketplace
 * does (servers/sandbox/agents-async.ts): `callback=failed` answers with the agent's error state,
 * `callback-duplicates=N` posts the answer N more times (the hub applies it once),
 * `callback=hold` posts nothing until `POST /sandbox/marketplace/kore/_callbacks/<messageId>/release`.
 * A real hub on loopback with its hosted sandbox, a real MCP client, real HTTP callbacks.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

const AUTH = { authorization: 'Bearer kore_sandbox_local' };
const KORE = '/sandbox/marketplace/kore';
const kore = (knobs: string, waitMs: number) => ({ protocol: 'kore', url: `${KORE}/agents/memory_v1+${knobs}`, headers: AUTH, async: true, waitMs });
const AGENTS = {
  kore_failed: kore('callback=failed', 15_000),
  kore_dupes: kore('callback-duplicates=3', 15_000),
  kore_held: kore('callback=hold', 50),
};

interface Callbacks {
  held: Array<{ task_id: string; url: string }>;
  sent: Array<{ taskId: string; status: number }>;
}

describe('the sandbox Kore agents’ async failure injection', () => {
  let hub: RunningHub;
  let client: Client;
  let origin: string;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { sleep: async () => {}, tasks: { pollMs: 50 } } });
    client = await bearerClient(hub.url, hub.token);
    origin = hub.url.replace(/\/mcp$/, '');
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  const latestTask = (agent: string) =>
    hub.hub.db.prepare('SELECT id, remote_task_id AS remote FROM agent_tasks WHERE agent = ? ORDER BY created_at DESC LIMIT 1').get(agent) as {
      id: string;
      remote: string | null;
    };
  const callbacks = async () => (await (await fetch(`${origin}${KORE}/_callbacks`, { headers: AUTH })).json()) as Callbacks;
  const state = async (taskId: string) =>
    (await client.callTool({ name: 'agent__task_status', arguments: { taskId } })).structuredContent as { state: string; result?: unknown; error?: string };

  it('callback=failed: the call ends failed with the agent’s error', async () => {
    const r = await client.callTool({ name: 'agent__kore_failed', arguments: { input: 'doomed' } });
    expect(r.isError).toBe(true);
    expect(r._meta?.['switchboard/agent']).toMatchObject({ failures: [{ agent: 'kore_failed', reason: 'agent_error' }] });
    expect((r.content as Array<{ text: string }>)[0]!.text).toContain('a tool the agent needs is down');
    expect((await state(latestTask('kore_failed').id)).state).toBe('failed');
  });

  it('callback-duplicates=3: the answer is posted four times, all accepted, and the hub applies it once', async () => {
    const r = await client.callTool({ name: 'agent__kore_dupes', arguments: { input: 'once' } });
    expect(r.isError).toBeFalsy();
    const { id, remote } = latestTask('kore_dupes');
    expect(remote).toMatch(/^msg-/);
    const sent = await eventually(async () => {
      const mine = (await callbacks()).sent.filter((s) => s.taskId === remote);
      return mine.length === 4 ? mine : undefined;
    });
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200]);
    const events = hub.hub.db.prepare("SELECT count(*) FROM inbox_events WHERE integration = 'agent' AND connection_id = ?").pluck().get(id);
    expect(events).toBe(1);
    const done = await state(id);
    expect(done.state).toBe('completed');
    expect(JSON.parse(done.result as string)).toMatchObject({ reply: 'noted: once' });
  });

  it('callback=hold: nothing is posted until the held answer is released, then the task completes', async () => {
    const r = await client.callTool({ name: 'agent__kore_held', arguments: { input: 'later' } });
    const { taskId } = r.structuredContent as { taskId: string };
    const remote = await eventually(() => latestTask('kore_held').remote ?? undefined);
    const before = await callbacks();
    expect(before.held).toContainEqual({ task_id: remote, url: `${origin}/agents/callback/${taskId}` });
    expect(before.sent.filter((s) => s.taskId === remote)).toEqual([]);
    expect((await state(taskId)).state).toBe('running');
    // The diagnostics answer the marketplace's key only.
    expect((await fetch(`${origin}${KORE}/_callbacks/${remote}/release`, { method: 'POST' })).status).toBe(401);

    const released = await fetch(`${origin}${KORE}/_callbacks/${remote}/release`, { method: 'POST', headers: AUTH });
    expect(await released.json()).toEqual({ statuses: [200] });
    const done = await eventually(async () => {
      const s = await state(taskId);
      return s.state === 'completed' ? s : undefined;
    });
    // memory_v1 answers with JSON text.
    expect(JSON.parse(done.result as string)).toMatchObject({ reply: 'noted: later' });
    expect((await callbacks()).held.map((h) => h.task_id)).not.toContain(remote);
  });
});

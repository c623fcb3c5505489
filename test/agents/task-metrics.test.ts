/**
 * Async agent calls run as MCP Tasks are counted in the per-agent metrics as any other call of
 * `agent__<name>` (README, "Agents" monitoring): one `switchboard_agent_calls_total` and one
 * duration sample per call, `pending` once the agent took the task (its answer is counted in
 * `switchboard_agent_requests_total` when the callback lands), `error` when the submission failed.
 * A real hub on loopback hosting the sandbox marketplace, whose callbacks are held until the test
 * releases them; a 2026-07-28 task over fetch and a 2025-11-25 task from the 1.x SDK client;
 * /metrics scraped over HTTP before and after.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheus, sumOf } from '../../servers/commands/agents-scrape.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { releaseHeld } from './support.js';
import { taskClient } from '../mcp/tasks-helpers.js';

const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', retries: 0 } as const;
const ASYNC = { ...SB, mode: 'async', webhookSecret: 'whsec_task_metrics_3b7e', waitMs: 150 } as const;
const AGENTS = {
  held: { ...ASYNC, agentId: 'echo_v1+callback=hold' },
  refused: { ...ASYNC, agentId: 'echo_v1+fail=400' },
};

describe('async agent calls as MCP Tasks in the per-agent metrics', () => {
  let hub: RunningHub;
  let base: string;
  let v1: Client | undefined;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { sleep: async () => {}, tasks: { pollMs: 50 } } });
    base = hub.url.replace(/\/mcp$/, '');
  });
  afterAll(async () => {
    await v1?.close().catch(() => {});
    await hub?.stop();
  });

  const scrape = async () => parsePrometheus(await (await fetch(new URL('/metrics', hub.url))).text());
  const agentTaskOf = (taskId: string): string => hub.hub.db.prepare('SELECT backing_id FROM mcp_tasks WHERE id = ?').pluck().get(taskId) as string;
  const release = (agentTaskId: string) => releaseHeld(base, agentTaskId);

  it('counts a task call of each era once, pending when the agent took it, and its answer when the callback lands', async () => {
    const before = await scrape();
    const calls = (s: typeof before, status: string) => sumOf(s, 'switchboard_agent_calls_total', { agent: 'held', status });
    const seconds = (s: typeof before) => sumOf(s, 'switchboard_agent_call_duration_seconds_count', { agent: 'held' });
    const answers = (s: typeof before) => sumOf(s, 'switchboard_agent_requests_total', { agent: 'held', status: 'ok' });

    const modern = taskClient(hub.url, hub.token);
    const created = await modern.tool('agent__held', { input: 'a 2026 task' });
    expect(created).toMatchObject({ resultType: 'task', status: 'working' });
    const modernTask = String(created['taskId']);

    v1 = new Client({ name: 'task-metrics', version: '1.0.0' });
    await v1.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    const legacy = await v1.request(
      { method: 'tools/call', params: { name: 'agent__held', arguments: { input: 'a 2025 task' }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const legacyTask = legacy.task.taskId;

    // Counted once submitted, before either callback: the caller holds a task that goes on.
    const submitted = await eventually(async () => {
      const s = await scrape();
      return calls(s, 'pending') - calls(before, 'pending') === 2 ? s : undefined;
    });
    expect(seconds(submitted) - seconds(before)).toBe(2);
    expect(answers(submitted) - answers(before)).toBe(0);

    await release(agentTaskOf(modernTask));
    await release(agentTaskOf(legacyTask));
    expect(await modern.until(modernTask, ['completed', 'failed', 'cancelled'])).toMatchObject({ status: 'completed' });
    expect(await v1.experimental.tasks.getTaskResult(legacyTask, CallToolResultSchema)).toMatchObject({
      content: [{ type: 'text', text: expect.stringContaining('echo: a 2025 task') }],
    });

    const after = await scrape();
    // Each call once (not again when it completes); each agent answer once, when its callback landed.
    expect(calls(after, 'pending') - calls(before, 'pending')).toBe(2);
    expect(sumOf(after, 'switchboard_agent_calls_total', { agent: 'held' }) - sumOf(before, 'switchboard_agent_calls_total', { agent: 'held' })).toBe(2);
    expect(seconds(after) - seconds(before)).toBe(2);
    expect(answers(after) - answers(before)).toBe(2);
  });

  it('counts a task call whose submission failed as an error, with the agent’s refusal', async () => {
    const before = await scrape();
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('agent__refused', { input: 'no' }))['taskId']);
    expect(await c.until(taskId, ['completed', 'failed', 'cancelled'])).toMatchObject({ status: 'completed', result: { isError: true } });
    const after = await eventually(async () => {
      const s = await scrape();
      return sumOf(s, 'switchboard_agent_calls_total', { agent: 'refused' }) > sumOf(before, 'switchboard_agent_calls_total', { agent: 'refused' })
        ? s
        : undefined;
    });
    expect(sumOf(after, 'switchboard_agent_calls_total', { agent: 'refused', status: 'error' })).toBe(1);
    expect(sumOf(after, 'switchboard_agent_call_duration_seconds_count', { agent: 'refused', status: 'error' })).toBe(1);
    expect(sumOf(after, 'switchboard_agent_requests_total', { agent: 'refused', status: 'error', error_type: 'status' })).toBe(1);
  });
});

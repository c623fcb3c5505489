/**
 * An async task that expires unanswered counts as its agent's `timeout` (README, Monitoring) once,
 * whoever ends it: the hourly sweep, or its owner reading it past its expiry (`agent__task_status`,
 * which ends it there). Before, a task its owner read first was ended uncounted, and the sweep,
 * which counts only the tasks it ends itself, skipped it. A real hub on loopback, the sandbox
 * marketplace holding the callback, a real MCP client, /metrics scraped over HTTP; the hub's clock
 * is real time plus a skew the test moves.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheus, sumOf } from '../../servers/commands/agents-scrape.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const TTL_MS = 60_000;
const SB = {
  protocol: 'upagents',
  baseUrl: '/sandbox/marketplace/v1',
  apiKey: 'ua_sandbox_local',
  mode: 'async',
  webhookSecret: 'whsec_expiry_9d2e',
  retries: 0,
} as const;
const AGENTS = {
  silent: { ...SB, agentId: 'echo_v1+callback=never', waitMs: 100 },
  swept: { ...SB, agentId: 'echo_v1+callback=never', waitMs: 100 },
};

type Result = { isError?: boolean; structuredContent?: Record<string, unknown> };

describe('an async task that expires unanswered, in the metrics', () => {
  let skew = 0;
  const clock = { now: () => Date.now() + skew };
  let hub: RunningHub;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as Result;
  const timeouts = async (agent: string) =>
    sumOf(parsePrometheus(await (await fetch(new URL('/metrics', hub.url))).text()), 'switchboard_agent_requests_total', {
      agent,
      status: 'error',
      error_type: 'timeout',
    });

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { clock, agents: { tasks: { pollMs: 50, taskTtlMs: TTL_MS } } });
    client = new Client({ name: 'expired-task-metrics-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  it('counts a task its owner reads past its expiry as a timeout, once, and the sweep after does not count it again', async () => {
    const handle = await call('agent__silent', { input: 'nobody answers' });
    const taskId = (handle.structuredContent as { taskId: string }).taskId;
    expect(taskId).toMatch(/^at_/);
    skew += TTL_MS + 1_000;
    const read = await call('agent__task_status', { taskId });
    expect(read.structuredContent).toMatchObject({ state: 'timed_out', error: 'no answer came before the task expired' });
    expect(await timeouts('silent')).toBe(1);
    // Read again, and swept: still one timeout.
    await call('agent__task_status', { taskId });
    expect((await hub.hub.agents.tasks!.purge.runOnce()).expired).toBe(0);
    expect(await timeouts('silent')).toBe(1);
  });

  it('counts a task nobody reads when the sweep ends it', async () => {
    await call('agent__swept', { input: 'nobody asks either' });
    skew += TTL_MS + 1_000;
    expect((await hub.hub.agents.tasks!.purge.runOnce()).expired).toBe(1);
    expect(await timeouts('swept')).toBe(1);
  });
});

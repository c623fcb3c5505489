/**
 * Async agent calls in the per-agent metrics (issue 10, "Monitoring"): the task path counts calls
 * by what the caller got (ok, error, pending for a handle, cancelled) as the sync path does, and
 * counts the agent's answer when its callback ends the task. A sync-mode agent that queues its
 * task anyway is an isError result naming it and the config that would wait for it, and its
 * fallback answers. A real hub on loopback, the sandbox marketplace, a real MCP client, /metrics
 * scraped over HTTP.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheus, sumOf } from '../../servers/commands/agents-scrape.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const SECRET = 'whsec_async_metrics_61c2';
const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', retries: 0 } as const;
const ASYNC = { ...SB, mode: 'async', webhookSecret: SECRET, waitMs: 15_000 } as const;
const AGENTS = {
  quick: { ...ASYNC, agentId: 'echo_v1' },
  failing: { ...ASYNC, agentId: 'echo_v1+callback=failed' },
  held: { ...ASYNC, agentId: 'echo_v1+callback=hold', waitMs: 100 },
  queuer: { ...SB, agentId: 'echo_v1+queue=1' },
  rescued: { ...SB, agentId: 'echo_v1+queue=1', fallback: 'steady' },
  steady: { ...SB, agentId: 'echo_v1' },
};

type Result = { content: Array<{ type: string; text?: string }>; isError?: boolean; structuredContent?: Record<string, unknown> };

describe('async agent calls in the metrics; a sync agent that queues', () => {
  let hub: RunningHub;
  let client: Client;
  const call = async (name: string, input: string) => (await client.callTool({ name: `agent__${name}`, arguments: { input } })) as Result;
  const scrape = async () => parsePrometheus(await (await fetch(new URL('/metrics', hub.url))).text());

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { tasks: { pollMs: 50 } } });
    client = new Client({ name: 'async-metrics-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  it('counts each async call by what its caller got, and each agent answer when its callback lands', async () => {
    expect((await call('quick', 'a')).isError).toBeFalsy();
    expect((await call('quick', 'b')).isError).toBeFalsy();
    const failed = await call('failing', 'c');
    expect(failed.isError).toBe(true);
    const handle = await call('held', 'd');
    expect(handle.structuredContent).toEqual({ taskId: expect.stringMatching(/^at_/), state: 'running' });
    const s = await scrape();
    const calls = (agent: string, status: string) => sumOf(s, 'switchboard_agent_calls_total', { agent, status });
    const requests = (agent: string, status: string, error_type = '') => sumOf(s, 'switchboard_agent_requests_total', { agent, status, error_type });
    expect([calls('quick', 'ok'), calls('failing', 'error'), calls('held', 'pending')]).toEqual([2, 1, 1]);
    expect(sumOf(s, 'switchboard_agent_call_duration_seconds_count', { agent: 'quick', status: 'ok' })).toBe(2);
    expect([requests('quick', 'ok'), requests('failing', 'error', 'agent:tool_unavailable')]).toEqual([2, 1]);
    // The held task has not answered: nothing of its agent's is counted yet.
    expect(sumOf(s, 'switchboard_agent_requests_total', { agent: 'held' })).toBe(0);
    expect(sumOf(s, 'switchboard_agent_recent_errors', { agent: 'failing' })).toBe(1);
  });

  it('a sync-mode agent that answers queued: an isError naming it and the async config, counted as its error', async () => {
    const r = await call('queuer', 'e');
    expect(r.isError).toBe(true);
    expect(r.content[0]!.text).toMatch(
      /^agent queuer queued the task task_[0-9a-f-]+ \(queued\) instead of answering, and the hub gave it no callback: configure it as async \(mode "async" with a webhookSecret\) to wait for its answer$/,
    );
    const s = await scrape();
    expect(sumOf(s, 'switchboard_agent_calls_total', { agent: 'queuer', status: 'error' })).toBe(1);
    expect(sumOf(s, 'switchboard_agent_requests_total', { agent: 'queuer', status: 'error', error_type: 'protocol' })).toBe(1);
  });

  it('its fallback answers instead', async () => {
    const r = await call('rescued', 'f');
    expect(r.isError).toBeFalsy();
    expect(JSON.parse(r.content[0]!.text!)).toMatchObject({ reply: 'echo: f' });
    expect(r.content[1]!.text).toMatch(/^Answered by fallback agent steady because agent rescued queued the task/);
  });
});

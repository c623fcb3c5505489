/**
 * Per-agent monitoring, end to end: a real hub on loopback, the sandbox marketplace it hosts (and a
 * small upagents server of the test's that reports a cost), real MCP clients calling healthy,
 * failing, bent and unsure agents; then /metrics scraped over HTTP and the hub's log read back.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport, type Progress } from '@modelcontextprotocol/client';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensOf } from '../../servers/sandbox/agents-catalog.js';
import { parsePrometheus, sumOf, type Sample } from '../../servers/commands/agents-scrape.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { FAILING_AGENTS, SB, TICKET } from './support.js';

const COST_KEY = 'priced-key-never-logged-5d1e';

describe('per-agent metrics and logs', () => {
  let hub: RunningHub;
  let priced: Server;
  let client: Client;
  let samples: Sample[];
  const logLines: string[] = [];
  const marker = `MARKER-${randomUUID()}`;
  const results: Record<string, Array<{ _meta?: Record<string, unknown> }>> = {};

  beforeAll(async () => {
    // An agent that reports its cost (seed 000's usage fields), which the sandbox does not.
    const app = express();
    app.use(express.json());
    app.post('/v1/agents/:id/tasks', (_req, res) => {
      res.json({ task_id: 'task_priced_1', status: 'completed', output: { answer: 42 }, usage: { input_tokens: 120, output_tokens: 30, cost_cents: 7.5 } });
    });
    priced = app.listen(0, '127.0.0.1');
    await new Promise((r) => priced.once('listening', r));
    const pricedUrl = `http://127.0.0.1:${(priced.address() as AddressInfo).port}/v1`;
    hub = await startHub(
      {
        integrations: { sandbox: {} },
        logLevel: 'debug',
        agents: {
          echo: { ...SB, agentId: 'echo_v1' },
          writer: { ...SB, agentId: 'writer_v2', mode: 'stream' },
          ...FAILING_AGENTS,
          priced: { protocol: 'upagents', baseUrl: pricedUrl, agentId: 'priced_v1', apiKey: COST_KEY },
        },
      },
      { log: capturedLogger(logLines, 'debug'), agents: { sleep: async () => {} } },
    );
    // The SDK client itself: the result's _meta (task ids) is what the log is checked against.
    client = new Client({ name: 'metrics-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    const call = async (tool: string, args: Record<string, unknown>, opts: { onprogress?: (p: Progress) => void } = {}) => {
      const r = await client.callTool({ name: `agent__${tool}`, arguments: args }, opts);
      results[tool] = [...(results[tool] ?? []), r as { _meta?: Record<string, unknown> }];
      return r;
    };
    await call('echo', { input: `${marker} first` });
    await call('echo', { input: `${marker} second` });
    await call('writer', { input: `${marker} topic` }, { onprogress: () => {} });
    for (let i = 0; i < 6; i++) await call('broken', TICKET);
    await call('bent', TICKET);
    await call('unsure', TICKET);
    await call('overflow', { input: 'long' });
    await call('priced', { input: marker });
    // Loopback: /metrics needs no token.
    const res = await fetch(new URL('/metrics', hub.url));
    expect(res.status).toBe(200);
    samples = parsePrometheus(await res.text());
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    priced?.closeAllConnections();
    await new Promise((r) => priced?.close(r));
  });

  const value = (name: string, labels: Record<string, string>) => sumOf(samples, name, labels);

  it('counts calls by what the caller got: ok, fallback, error', () => {
    expect(value('switchboard_agent_calls_total', { agent: 'echo', status: 'ok' })).toBe(2);
    expect(value('switchboard_agent_calls_total', { agent: 'writer', status: 'ok' })).toBe(1);
    expect(value('switchboard_agent_calls_total', { agent: 'broken', status: 'fallback' })).toBe(6);
    expect(value('switchboard_agent_calls_total', { agent: 'bent', status: 'fallback' })).toBe(1);
    expect(value('switchboard_agent_calls_total', { agent: 'unsure', status: 'error' })).toBe(1);
    expect(value('switchboard_agent_calls_total', { agent: 'overflow', status: 'error' })).toBe(1);
    expect(value('switchboard_agent_call_duration_seconds_count', { agent: 'echo', status: 'ok' })).toBe(2);
    expect(value('switchboard_agent_call_duration_seconds_sum', { agent: 'echo', status: 'ok' })).toBeGreaterThan(0);
  });

  it("counts each agent's answers by status and error type, fallbacks included", () => {
    const req = (agent: string, status: string, error_type: string) => value('switchboard_agent_requests_total', { agent, status, error_type });
    expect(req('broken', 'error', 'status')).toBe(5);
    expect(req('broken', 'error', 'circuit_open')).toBe(1);
    expect(req('triage_ok', 'ok', '')).toBe(7);
    expect(req('bent', 'error', 'invalid_output')).toBe(1);
    expect(req('unsure', 'error', 'invalid_output')).toBe(1);
    expect(req('overflow', 'error', 'agent:context_overflow')).toBe(1);
    // Each HTTP attempt's latency, by how it ended: the open circuit sent none.
    expect(value('switchboard_agent_attempt_duration_seconds_count', { agent: 'broken', outcome: 'status' })).toBe(5);
    expect(value('switchboard_agent_attempt_duration_seconds_count', { agent: 'broken' })).toBe(5);
    expect(value('switchboard_agent_attempt_duration_seconds_count', { agent: 'overflow', outcome: 'agent_error' })).toBe(1);
  });

  it('counts validation failures by reason', () => {
    expect(value('switchboard_agent_validation_failures_total', { agent: 'bent', reason: 'output_schema' })).toBe(1);
    expect(value('switchboard_agent_validation_failures_total', { agent: 'unsure', reason: 'confidence_low' })).toBe(1);
    expect(value('switchboard_agent_validation_failures_total', {})).toBe(2);
  });

  it('shows each breaker (2 open, 0 closed) and the recent requests and errors', () => {
    expect(value('switchboard_agent_breaker_state', { agent: 'broken' })).toBe(2);
    expect(value('switchboard_agent_breaker_state', { agent: 'echo' })).toBe(0);
    // An agent never called shows too, closed.
    expect(samples.filter((s) => s.name === 'switchboard_agent_breaker_state').map((s) => s.labels['agent'])).toContain('triage_ok');
    expect(value('switchboard_agent_recent_requests', { agent: 'broken' })).toBe(6);
    expect(value('switchboard_agent_recent_errors', { agent: 'broken' })).toBe(6);
    expect(value('switchboard_agent_recent_requests', { agent: 'echo' })).toBe(2);
    expect(value('switchboard_agent_recent_errors', { agent: 'echo' })).toBe(0);
  });

  it('records the tokens and the cost agents report', () => {
    const echoIn = [`${marker} first`, `${marker} second`].reduce((n, s) => n + tokensOf(JSON.stringify({ input: s })).length, 0);
    expect(value('switchboard_agent_tokens_sum', { agent: 'echo', direction: 'input' })).toBe(echoIn);
    expect(value('switchboard_agent_tokens_count', { agent: 'echo', direction: 'output' })).toBe(2);
    // Streamed answers report theirs in the complete event.
    expect(value('switchboard_agent_tokens_count', { agent: 'writer', direction: 'output' })).toBe(1);
    expect(value('switchboard_agent_tokens_sum', { agent: 'priced', direction: 'input' })).toBe(120);
    expect(value('switchboard_agent_cost_cents_total', { agent: 'priced' })).toBe(7.5);
    expect(samples.some((s) => s.name === 'switchboard_agent_cost_cents_total' && s.labels['agent'] === 'echo')).toBe(false);
  });

  it('logs task ids, latency and token counts, never the input, the output or a key', () => {
    const entries = logLines.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const answered = entries.filter((e) => e['msg'] === 'agent answered');
    const taskIds = (results['echo'] ?? []).map((r) => (r._meta?.['switchboard/agent'] as { taskId?: string } | undefined)?.taskId);
    expect(taskIds).toEqual([expect.stringMatching(/^task_/), expect.stringMatching(/^task_/)]);
    for (const id of taskIds) {
      const line = answered.find((e) => e['taskId'] === id);
      expect(line).toMatchObject({
        agent: 'echo',
        answeredBy: 'echo',
        ms: expect.any(Number),
        usage: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) },
      });
    }
    expect(answered.find((e) => e['agent'] === 'priced')).toMatchObject({
      taskId: 'task_priced_1',
      usage: { inputTokens: 120, outputTokens: 30, costCents: 7.5 },
    });
    expect(entries.find((e) => e['msg'] === 'agent gave no answer' && e['agent'] === 'unsure')).toMatchObject({ ms: expect.any(Number) });
    const all = logLines.join('');
    expect(all).not.toContain(marker);
    // Outputs: the echo's reply, the writer's note, the triage's suggested reply.
    expect(all).not.toContain('echo: ');
    expect(all).not.toContain('Here is a short note');
    expect(all).not.toContain('Thanks for reaching out');
    expect(all).not.toContain(COST_KEY);
  });
});

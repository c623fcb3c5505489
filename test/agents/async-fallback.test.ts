/**
 * An async agent whose submission fails, and the fallbacks that then take (or do not take) the
 * task (README, Agents, Resilience): the final result says why the fallback answered — a second
 * text block and `_meta["switchboard/agent"].fallbackFrom` — and a failure names each agent and
 * why, whether it is read by the waiting call, by agent__task_status or by a 2025-11-25
 * tasks/result. The failures are kept with the task, so each caller's result names its own. A real
 * hub on loopback hosting the sandbox marketplace, which calls back signed.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client as ClientV2 } from '@modelcontextprotocol/client';
import { bearerClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { signedCallback } from './support.js';

const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', mode: 'async', retries: 0, waitMs: 15_000 } as const;
const AGENTS = {
  // Failure injection rides in the agent id: header values are secrets the hub scrubs from results.
  refusing: { ...SB, agentId: 'echo_v1+fail=503', webhookSecret: 'whsec_refusing_1a2b', fallback: 'taker' },
  taker: { ...SB, agentId: 'echo_v1', webhookSecret: 'whsec_taker_3c4d' },
  refusing_to_failing: { ...SB, agentId: 'echo_v1+fail=503', webhookSecret: 'whsec_refusing_1a2b', fallback: 'failing' },
  failing: { ...SB, agentId: 'echo_v1+callback=failed', webhookSecret: 'whsec_failing_5e6f' },
  refusing_to_refusing: { ...SB, agentId: 'echo_v1+fail=503', webhookSecret: 'whsec_refusing_1a2b', fallback: 'also_refusing' },
  also_refusing: { ...SB, agentId: 'echo_v1+fail=502', webhookSecret: 'whsec_refusing_7a8b' },
  refusing_to_held: { ...SB, agentId: 'echo_v1+fail=503', webhookSecret: 'whsec_refusing_1a2b', fallback: 'held', waitMs: 100 },
  held: { ...SB, agentId: 'echo_v1+callback=hold', webhookSecret: 'whsec_held_9c0d' },
};
const REFUSED = 'agent refusing_to_failing answered 503';

describe('an async agent whose fallback takes the task', () => {
  let hub: RunningHub;
  let alice: ClientV2;
  let bob: ClientV2;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { sleep: async () => {}, tasks: { pollMs: 50 } } });
    alice = await bearerClient(hub.url, hub.token);
    bob = await bearerClient(hub.url, (await hub.hub.tokens.create({ user: 'bob' })).token);
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await hub?.stop();
  });

  const taskIdIn = (r: { _meta?: Record<string, unknown> }) => String((r._meta?.['switchboard/agent'] as { hubTaskId?: string } | undefined)?.hubTaskId);
  const call = (c: ClientV2, name: string, input: string) => c.callTool({ name, arguments: { input } });
  const textOf = (r: { content: unknown[] }) => (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');

  it('the waiting call and agent__task_status say why the fallback answered, for each of two users', async () => {
    const [a, b] = await Promise.all([call(alice, 'agent__refusing', 'from alice'), call(bob, 'agent__refusing', 'from bob')]);
    for (const [r, who] of [
      [a, 'alice'],
      [b, 'bob'],
    ] as const) {
      expect(r.isError).toBeFalsy();
      expect(r.content).toEqual([
        { type: 'text', text: expect.stringContaining(`echo: from ${who}`) },
        { type: 'text', text: expect.stringMatching(/^Answered by fallback agent taker because agent refusing answered 503/) },
      ]);
      expect(r._meta?.['switchboard/agent']).toMatchObject({
        agent: 'refusing',
        answeredBy: 'taker',
        fallbackFrom: [{ agent: 'refusing', reason: 'status', code: 'source_unavailable' }],
      });
    }
    const status = await alice.callTool({ name: 'agent__task_status', arguments: { taskId: taskIdIn(a) } });
    expect(status.structuredContent).toMatchObject({
      state: 'completed',
      answeredBy: 'taker',
      failures: [{ agent: 'refusing', reason: 'status', message: expect.stringContaining('agent refusing answered 503') }],
    });
    // Each caller's task is its own: bob cannot read alice's.
    expect((await bob.callTool({ name: 'agent__task_status', arguments: { taskId: taskIdIn(a) } })).isError).toBe(true);
  });

  it('a fallback whose callback reports failure: the error names the refused agent and the fallback', async () => {
    const r = await call(alice, 'agent__refusing_to_failing', 'doomed');
    expect(r.isError).toBe(true);
    const lines = textOf(r).split('\n');
    expect(lines[0]).toContain(REFUSED);
    expect(lines[1]).toMatch(/^fallback agent failing: task at_[A-Za-z0-9_-]{22} failed: /);
    expect(r._meta?.['switchboard/agent']).toMatchObject({
      agent: 'refusing_to_failing',
      failures: [
        { agent: 'refusing_to_failing', reason: 'status' },
        { agent: 'failing', reason: 'agent_error' },
      ],
    });
  });

  it('2025-11-25 tasks/result names them too: the fallback’s reason, and every agent when none took the task', async () => {
    const client = new Client({ name: 'v1-async-fallback', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      const resultOf = async (name: string) => {
        const created = await client.request(
          { method: 'tools/call', params: { name, arguments: { input: 'as a task' }, task: { ttl: 60_000 } } },
          CreateTaskResultSchema,
        );
        return client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
      };
      const taken = await resultOf('agent__refusing');
      expect(taken.content[1]).toEqual({ type: 'text', text: expect.stringMatching(/^Answered by fallback agent taker because agent refusing answered 503/) });
      expect(taken._meta?.['switchboard/agent']).toMatchObject({ answeredBy: 'taker', fallbackFrom: [{ agent: 'refusing', reason: 'status' }] });

      const failed = await resultOf('agent__refusing_to_failing');
      expect(failed._meta?.['switchboard/agent']).toMatchObject({ failures: [{ agent: 'refusing_to_failing' }, { agent: 'failing' }] });

      // No agent took it: the same result the direct call gives, each agent with its own reason.
      const none = await resultOf('agent__refusing_to_refusing');
      const direct = await call(alice, 'agent__refusing_to_refusing', 'as a task');
      expect(none).toMatchObject({ isError: true, content: direct.content });
      expect(none._meta?.['switchboard/agent']).toEqual(direct._meta?.['switchboard/agent']);
      expect(direct._meta?.['switchboard/agent']).toMatchObject({
        failures: [
          { agent: 'refusing_to_refusing', reason: 'status' },
          { agent: 'also_refusing', reason: 'status' },
        ],
      });
    } finally {
      await client.close();
    }
  });

  it('a callback for the task is verified under the secret of the agent that took it, not another of its chain', async () => {
    const r = await call(alice, 'agent__refusing_to_held', 'whose answer?');
    const { taskId } = r.structuredContent as { taskId: string };
    const base = hub.url.replace(/\/mcp$/, '');
    const url = `${base}/agents/callback/${taskId}`;
    const market = { authorization: 'Bearer ua_sandbox_local' };
    const remote = await eventually(async () => {
      const held = (await (await fetch(`${base}/sandbox/marketplace/v1/_callbacks`, { headers: market })).json()) as {
        held: Array<{ task_id: string; url: string }>;
      };
      return held.held.find((h) => h.url === url)?.task_id;
    });
    const body = JSON.stringify({ task_id: remote, status: 'completed', output: { reply: 'signed answer' } });
    const post = (secret: string) => fetch(url, { method: 'POST', headers: signedCallback(secret, body), body }).then((res) => res.status);
    // The refusing agent was handed this URL when it was tried; its secret signs nothing for the task.
    expect(await post('whsec_refusing_1a2b')).toBe(401);
    const status = async () => (await alice.callTool({ name: 'agent__task_status', arguments: { taskId } })).structuredContent;
    expect(await status()).toMatchObject({ state: 'running', answeredBy: 'held' });
    expect(await post('whsec_held_9c0d')).toBe(200);
    await eventually(async () => ((await status()) as { state: string }).state === 'completed' || undefined);
    expect(await status()).toMatchObject({ state: 'completed', answeredBy: 'held', result: { reply: 'signed answer' } });
  });
});

/**
 * A failed agent call run as an MCP Task answers what the direct call answers (README, "Long calls
 * as MCP Tasks", States): the isError result. A 2025-11-25 session sees the task `failed` (isError
 * counts as failed there) and tasks/result returns that result, not a JSON-RPC error; a
 * 2026-07-28 client sees it `completed` with the result inlined (SEP-2663), as for a queued write.
 * A stream agent whose stream is cut (a local task) and an async agent whose callback reports a
 * failure (an agent task) are told the same way. Real hub on loopback, the sandbox marketplace for
 * the async agent, a stand-in agent of its own for the cut stream.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';
import { taskClient } from './tasks-helpers.js';

const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', retries: 0 } as const;
const RELATED = 'io.modelcontextprotocol/related-task';

describe('a failed agent call as an MCP Task', () => {
  let hub: RunningHub;
  let cutter: LocalApi;
  let client: Client;

  beforeAll(async () => {
    // A streamed answer cut before its complete event: the agent took the task, then its stream ended.
    cutter = await localApi((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'close' });
      res.end('event: token\ndata: {"type":"token","content":"one "}\n\n');
    });
    const agents = {
      cut: { protocol: 'upagents', baseUrl: cutter.origin, apiKey: 'ua_cut_key_7d2e', agentId: 'cut_v1', mode: 'stream', retries: 0 },
      failing: { ...SB, mode: 'async', webhookSecret: 'whsec_failed_tasks_41aa', agentId: 'echo_v1+callback=failed', waitMs: 5_000 },
    };
    hub = await startHub({ integrations: { sandbox: {} }, agents }, { agents: { sleep: async () => {}, tasks: { pollMs: 50 } } });
    client = new Client({ name: 'v1-failed-agent-tasks', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    await cutter?.close();
  });

  /** The call as a 2025-11-25 task: its final tasks/get and its tasks/result. */
  const asLegacyTask = async (name: string, input: string) => {
    const created = await client.request({ method: 'tools/call', params: { name, arguments: { input }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    const taskId = created.task.taskId;
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    return { taskId, task: await client.experimental.tasks.getTask(taskId), result };
  };
  const withoutRelated = (r: Record<string, unknown>) => {
    const { [RELATED]: _related, ...meta } = (r['_meta'] ?? {}) as Record<string, unknown>;
    return { ...r, _meta: meta };
  };

  it('a cut stream: 2025 tasks/get is failed and tasks/result is the direct call’s isError result; 2026 inlines it as completed', async () => {
    const direct = await client.callTool({ name: 'agent__cut', arguments: { input: 'a note' } });
    expect(direct).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringContaining('closed its stream before the complete event') }] });

    const { taskId, task, result } = await asLegacyTask('agent__cut', 'a note');
    expect(task).toMatchObject({ taskId, status: 'failed', statusMessage: (direct.content as Array<{ text: string }>)[0]!.text });
    expect(result._meta?.[RELATED]).toEqual({ taskId });
    expect(withoutRelated(result)).toEqual(direct);

    const modern = taskClient(hub.url, hub.token);
    const created = await modern.tool('agent__cut', { input: 'a note' });
    const done = await modern.until(String(created['taskId']), ['completed', 'failed', 'cancelled']);
    expect(done).toMatchObject({ status: 'completed', result: direct });
    expect(done).not.toHaveProperty('error');
  });

  it('a callback reporting failure: 2025 tasks/get is failed and tasks/result returns the isError result naming the agent and why', async () => {
    const { taskId, task, result } = await asLegacyTask('agent__failing', 'doomed');
    expect(task).toMatchObject({ taskId, status: 'failed', statusMessage: expect.stringMatching(/^agent failing: task at_[A-Za-z0-9_-]{22} failed: /) });
    expect(result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: task.statusMessage }],
      _meta: { [RELATED]: { taskId }, 'switchboard/agent': { agent: 'failing', failures: [{ agent: 'failing' }] } },
    });

    const modern = taskClient(hub.url, hub.token);
    const created = await modern.tool('agent__failing', { input: 'doomed' });
    const done = await modern.until(String(created['taskId']), ['completed', 'failed', 'cancelled']);
    expect(done).toMatchObject({ status: 'completed', result: { isError: true, _meta: { 'switchboard/agent': { agent: 'failing' } } } });
    expect(done).not.toHaveProperty('error');
  });
});

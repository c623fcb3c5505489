/**
 * The status a upagents callback carries (seed 000): a status the hub does not know is refused with
 * 400 `bad_body` naming it, logged, and the task is unchanged, rather than acknowledged as progress
 * and its output dropped; `queued` is progress; `complete` (seed 000's word for the stream's final
 * event) finishes the task with its output as `completed` does. A real hub on loopback, the sandbox
 * marketplace holding the task's answer, a real MCP client, callbacks signed as the platform signs.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/hub.js';
import { agentTaskStatus, heldRemoteTaskId, SB, signedCallback, startAgentHub, type AgentHub } from './support.js';

const SECRET = 'whsec_callback_status_41c9';

describe('a upagents callback by its status', () => {
  let h: AgentHub;
  let client: Client;
  let base: string;

  beforeAll(async () => {
    h = await startAgentHub({ held: { ...SB, agentId: 'echo_v1+callback=hold', mode: 'async', webhookSecret: SECRET, waitMs: 50 } });
    base = h.hub.url.replace(/\/mcp$/, '');
    client = new Client({ name: 'callback-status-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.hub.url), { requestInit: { headers: { authorization: `Bearer ${h.hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await h?.hub.stop();
  });

  const post = (taskId: string, payload: unknown) => {
    const body = JSON.stringify(payload);
    return fetch(`${base}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
  };

  it('refuses an unknown status with 400 bad_body naming it; takes queued as progress and complete as completed', async () => {
    const handle = (await client.callTool({ name: 'agent__held', arguments: { input: 'status words' } })) as { structuredContent: { taskId: string } };
    const { taskId } = handle.structuredContent;
    const remote = await heldRemoteTaskId(base, taskId);

    const done = await post(taskId, { task_id: remote, status: 'done', output: 'THE ANSWER' });
    expect(done.status).toBe(400);
    expect(await done.json()).toEqual({ error: { code: 'bad_body', message: expect.stringContaining('status "done" is none the hub knows') } });
    expect(h.logLines.find((l) => l.includes('"msg":"agent callback refused"'))).toContain('status \\"done\\" is none the hub knows');
    expect(await agentTaskStatus(client, taskId)).toMatchObject({ state: 'running' });

    const queued = await post(taskId, { task_id: remote, status: 'queued' });
    expect(queued.status).toBe(200);
    expect(await agentTaskStatus(client, taskId)).toMatchObject({ state: 'running' });

    const complete = await post(taskId, { task_id: remote, status: 'complete', output: 'THE ANSWER' });
    expect(complete.status).toBe(200);
    const finished = await eventually(async () => {
      const s = await agentTaskStatus(client, taskId);
      return s.state === 'running' ? undefined : s;
    });
    expect(finished).toMatchObject({ state: 'completed', result: 'THE ANSWER' });
  });
});

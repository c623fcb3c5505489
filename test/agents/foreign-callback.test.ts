/**
 * Two hubs on one data dir with different configs (a `serve` and a `stdio`, as users run them):
 * a callback for an async task reaches the hub whose config lacks its agent. It cannot be verified
 * there (the secret is in the other hub's config only), so it is refused with 409
 * agent_not_configured and the task is unchanged; a task id the store does not know is 404; the
 * same callback sent to the hub that has the agent completes the task, whichever process's inbox
 * worker applies it; once the task is final, the other hub acknowledges and drops a redelivery.
 * Real hubs on loopback, real SQLite, a real MCP client.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { agentTaskStatus, heldRemoteTaskId, signedCallback } from './support.js';

const SECRET = 'whsec_foreign_callback_7d2a';
const AGENTS = {
  later: {
    protocol: 'upagents',
    baseUrl: '/sandbox/marketplace/v1',
    apiKey: 'ua_sandbox_local',
    agentId: 'echo_v1+callback=hold',
    mode: 'async',
    webhookSecret: SECRET,
    waitMs: 100,
  },
};

describe('a callback that reaches a hub whose config lacks its agent', () => {
  let a: RunningHub;
  let b: Hub;
  let bBase: string;
  let client: Client;
  const logLines: string[] = [];

  beforeAll(async () => {
    a = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { tasks: { pollMs: 50 } } });
    // The second hub: the same data dir, a config with no agents at all.
    const config = configSchema.parse({ integrations: {}, dataDir: a.dataDir, server: { port: 0 } });
    const listener = await bindHttp(config.server, { host: '127.0.0.1' });
    b = new Hub({ config, log: capturedLogger(logLines, 'info'), hosted: [hostedSandbox()], listener });
    await b.start();
    bBase = (await b.listen()).url.replace(/\/mcp$/, '');
    client = new Client({ name: 'foreign-callback-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(a.url), { requestInit: { headers: { authorization: `Bearer ${a.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await b?.stop();
    await a?.stop();
  });

  const status = (taskId: string) => agentTaskStatus(client, taskId);

  it('409 there with the task unchanged, 404 for an unknown task; the hub with the agent completes it; a redelivery there is dropped', async () => {
    const handle = (await client.callTool({ name: 'agent__later', arguments: { input: 'elsewhere' } })) as { structuredContent: { taskId: string } };
    const { taskId } = handle.structuredContent;
    const aBase = a.url.replace(/\/mcp$/, '');
    const remoteId = await heldRemoteTaskId(aBase, taskId);
    const body = JSON.stringify({ task_id: remoteId, status: 'completed', output: { reply: 'echo: elsewhere' } });

    const refused = await fetch(`${bBase}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'agent_not_configured',
        message: expect.stringContaining("the agent later of this task is not an async agent in this hub's config, so its callback cannot be verified here"),
      },
    });
    expect(logLines.join('')).toContain('agent callback refused: its agent is not configured on this hub');
    expect(logLines.join('')).not.toContain(SECRET);
    expect(await status(taskId)).toMatchObject({ state: 'running' });

    const unknown = await fetch(`${bBase}/agents/callback/at_${'A'.repeat(22)}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(unknown.status).toBe(404);

    const accepted = await fetch(`${aBase}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(accepted.status).toBe(200);
    await eventually(async () => ((await status(taskId)).state === 'completed' ? true : undefined), 10_000, 50);
    expect(await status(taskId)).toMatchObject({ state: 'completed', result: { reply: 'echo: elsewhere' } });

    const late = await fetch(`${bBase}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect([late.status, await late.json()]).toEqual([200, { ok: true, dropped: true }]);
  });
});

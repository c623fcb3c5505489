/**
 * Rotating an async agent's `webhookSecret` with tasks in flight: the hub is stopped and started
 * again on its data dir with `webhookSecret: [new, old]`. A callback for a task handed the old
 * secret, signed with it, completes the task; one signed with a secret not listed is 401 and the
 * task is unchanged; a new task is handed the first secret, and the platform's callback signed
 * with it completes; every listed secret is scrubbed from results and logs. Real hubs on loopback on one
 * data dir, the sandbox marketplace holding each answer, a real MCP client.
 */
import { rmSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { eventually, startHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { agentTaskStatus, heldRemoteTaskId, releaseHeld, SB, signedCallback } from './support.js';

const OLD = 'whsec_rotation_old_5b1e';
const NEW = 'whsec_rotation_new_8f3a';
const agents = (webhookSecret: string | string[]) => ({
  held: { ...SB, agentId: 'echo_v1+callback=hold', mode: 'async', webhookSecret, waitMs: 50 },
});

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'secret-rotation-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

const settled = (client: Client, taskId: string) =>
  eventually(async () => {
    const s = await agentTaskStatus(client, taskId);
    return s.state === 'running' ? undefined : s;
  });

describe('an async agent whose webhookSecret is rotated while a task is in flight', () => {
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it('completes the task handed the old secret after a restart with [new, old]; refuses a secret not listed; hands new tasks the first', async () => {
    const before = await startHub({ integrations: { sandbox: {} }, agents: agents(OLD) }, { agents: { tasks: { pollMs: 50 } } });
    cleanup.push(() => rmSync(before.dataDir, { recursive: true, force: true }));
    const first = await connect(before.url, before.token);
    // The input quotes the old secret: once it is listed second it is still scrubbed from results.
    const handle = (await first.callTool({ name: 'agent__held', arguments: { input: `rotate ${OLD}` } })) as { structuredContent: { taskId: string } };
    const { taskId } = handle.structuredContent;
    const remote = await heldRemoteTaskId(before.url.replace(/\/mcp$/, ''), taskId);
    await first.close();
    await before.hub.stop();

    const config = configSchema.parse({ integrations: { sandbox: {} }, agents: agents([NEW, OLD]), dataDir: before.dataDir, server: { port: 0 } });
    const listener = await bindHttp(config.server, { host: '127.0.0.1' });
    const logLines: string[] = [];
    const after = new Hub({ config, log: capturedLogger(logLines), hosted: [hostedSandbox()], listener, agents: { tasks: { pollMs: 50 } } });
    after.start();
    await after.ready();
    const url = (await after.listen()).url;
    cleanup.push(() => after.stop());
    const base = url.replace(/\/mcp$/, '');
    const client = await connect(url, before.token);
    cleanup.push(() => client.close());

    const body = JSON.stringify({ task_id: remote, status: 'completed', output: `echo: rotate ${OLD}` });
    const post = (secret: string) => fetch(`${base}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(secret, body), body });
    const forged = await post('whsec_rotation_unlisted_0000');
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'bad_signature' } });
    expect(await agentTaskStatus(client, taskId)).toMatchObject({ state: 'running' });

    expect((await post(OLD)).status).toBe(200);
    expect(await settled(client, taskId)).toMatchObject({ state: 'completed', result: 'echo: rotate [redacted]' });

    // A new task: the marketplace signs its answer with the secret the hub handed it, the first.
    const next = (await client.callTool({ name: 'agent__held', arguments: { input: 'after the rotation' } })) as { structuredContent: { taskId: string } };
    expect(await releaseHeld(base, next.structuredContent.taskId)).toMatchObject({ statuses: [200] });
    expect(await settled(client, next.structuredContent.taskId)).toMatchObject({ state: 'completed', result: { reply: 'echo: after the rotation' } });
    expect(logLines.join('\n')).toContain('agent callback refused');
    expect(logLines.join('\n')).not.toMatch(new RegExp(`${OLD}|${NEW}`));
  });
});

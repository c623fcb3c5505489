/**
 * An agent callback over the 5 MiB cap (src/agents/tasks/callback.ts) is answered 413
 * body_too_large, read to its end first: a sender still writing when the hub answered and closed
 * heard a reset (EPIPE, ECONNRESET) and would retry, never learning why. The task stays as it was,
 * and a callback within the cap completes it afterwards. A real hub on loopback, the sandbox
 * marketplace's held callback, and the sender in its own process, as a platform is: sharing the
 * hub's event loop, it could not be mid-write when the hub answers.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { SB, agentTaskStatus, heldRemoteTaskId, signedCallback } from './support.js';

const SECRET = 'whsec_callback_too_large_41c9';

/** Sends each body size (MiB) signed as the callback of `remoteId`; announced, or chunked for every third. */
const SENDER = `
  const { request } = await import('node:http');
  const { createHmac } = await import('node:crypto');
  const [url, secret, remoteId, ...sizes] = process.argv.slice(1);
  const out = [];
  for (const [i, mib] of sizes.map(Number).entries()) {
    const body = JSON.stringify({ task_id: remoteId, status: 'completed', output: { reply: 'y'.repeat(mib * 1024 * 1024) } });
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', secret).update(ts + '.' + body).digest('hex');
    const headers = { 'content-type': 'application/json', 'x-webhook-timestamp': ts, 'x-webhook-signature': signature };
    if (i % 3 !== 2) headers['content-length'] = String(Buffer.byteLength(body));
    out.push(await new Promise((resolve) => {
      const req = request(url, { method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(res.statusCode + ' ' + JSON.parse(text).error.code));
      });
      req.on('error', (err) => resolve('error ' + err.code));
      req.end(body);
    }));
  }
  console.log(JSON.stringify(out));`;

describe('an agent callback over the size cap', () => {
  let hub: RunningHub;
  let client: Client;

  beforeAll(async () => {
    const agents = { later: { ...SB, agentId: 'echo_v1+callback=hold', mode: 'async', webhookSecret: SECRET, waitMs: 100 } };
    hub = await startHub({ integrations: { sandbox: {} }, agents }, { agents: { tasks: { pollMs: 50 } } });
    client = new Client({ name: 'callback-too-large-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  const status = (taskId: string) => agentTaskStatus(client, taskId);

  it('is answered 413 body_too_large, not a reset connection, and leaves the task for a callback within the cap', async () => {
    const handle = (await client.callTool({ name: 'agent__later', arguments: { input: 'big answer' } })) as { structuredContent: { taskId: string } };
    const { taskId } = handle.structuredContent;
    const base = hub.url.replace(/\/mcp$/, '');
    const remoteId = await heldRemoteTaskId(base, taskId);
    const url = `${base}/agents/callback/${taskId}`;

    const sizes = ['6', '12', '6', '6', '12', '12'];
    const child = spawn(process.execPath, ['--input-type=module', '-e', SENDER, url, SECRET, remoteId, ...sizes]);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(sizes.map(() => '413 body_too_large'));
    expect(await status(taskId)).toMatchObject({ state: 'running' });

    const body = JSON.stringify({ task_id: remoteId, status: 'completed', output: { reply: 'echo: big answer' } });
    const accepted = await fetch(url, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(accepted.status).toBe(200);
    await eventually(async () => ((await status(taskId)).state === 'completed' ? true : undefined), 10_000, 50);
    expect(await status(taskId)).toMatchObject({ state: 'completed', result: { reply: 'echo: big answer' } });
  });
});

/**
 * An agent's JSON that nests past what the hub's results can be written with (JSON.parse takes
 * any depth, JSON.stringify overflows the stack). A signed callback carrying it was answered 503
 * inbox_unavailable, so the platform retried forever; a sync answer carrying it failed as
 * source_failed, "a bug in the hub". Now the callback is a bad body (400, the task unchanged) and
 * the sync answer an agent's protocol failure (downstream_error, the fallbacks tried).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { SB, agentTaskStatus, heldRemoteTaskId, signedCallback } from './support.js';

const SECRET = 'whsec_deep_output_7f3a';
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A platform whose every task completes at once with an output nesting 20,000 levels (~40 KB), as JSON or a stream's `complete`. */
function deepPlatform(): Server {
  let n = 0;
  return createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = `deep_${++n}`;
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`event: token\ndata: {"content":"hi"}\n\nevent: complete\ndata: {"task_id":"${id}","output":{"x":${nested(20_000)}}}\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"task_id":"${id}","status":"completed","output":{"x":${nested(20_000)}}}`);
    });
  });
}

describe('agent output nesting too deeply', () => {
  let hub: RunningHub;
  let client: Client;
  let platform: Server;

  beforeAll(async () => {
    platform = deepPlatform();
    await new Promise<void>((resolve) => platform.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(platform.address() as AddressInfo).port}/v1`;
    const deep = { protocol: 'upagents', baseUrl, apiKey: 'ua_deep_key', agentId: 'deep_v1', retries: 0 };
    const agents = {
      later: { ...SB, agentId: 'echo_v1+callback=hold', mode: 'async', webhookSecret: SECRET, waitMs: 100 },
      deep,
      deep_falls_back: { ...deep, fallback: 'echo' },
      deep_stream: { ...deep, mode: 'stream', fallback: 'echo' },
      echo: { ...SB, agentId: 'echo_v1' },
    };
    hub = await startHub({ integrations: { sandbox: {} }, agents }, { agents: { tasks: { pollMs: 50 }, sleep: async () => {} } });
    client = new Client({ name: 'deep-output-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await new Promise((resolve) => platform?.close(resolve));
  });

  const status = (taskId: string) => agentTaskStatus(client, taskId);

  it('a signed callback nesting 5,000 levels is refused 400 bad_body, not 503, and the task waits for a good one', async () => {
    const handle = (await client.callTool({ name: 'agent__later', arguments: { input: 'deep answer' } })) as { structuredContent: { taskId: string } };
    const { taskId } = handle.structuredContent;
    const base = hub.url.replace(/\/mcp$/, '');
    const remoteId = await heldRemoteTaskId(base, taskId);
    const url = `${base}/agents/callback/${taskId}`;

    const body = `{"task_id":"${remoteId}","status":"completed","output":{"x":${nested(5_000)}}}`;
    const refused = await fetch(url, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(await refused.json()).toEqual({ error: { code: 'bad_body', message: 'the body nests deeper than 256 levels' } });
    expect(await status(taskId)).toMatchObject({ state: 'running' });

    const good = JSON.stringify({ task_id: remoteId, status: 'completed', output: { x: JSON.parse(nested(100)) } });
    const accepted = await fetch(url, { method: 'POST', headers: signedCallback(SECRET, good), body: good });
    expect(accepted.status).toBe(200);
  });

  it('a sync answer nesting 20,000 levels is the agent failing (downstream_error), not the hub', async () => {
    const r = await client.callTool({ name: 'agent__deep', arguments: { input: 'hi' } });
    expect(r.isError).toBe(true);
    expect(r._meta?.['switchboard/error']).toEqual({ code: 'downstream_error', retryable: false });
    expect(JSON.stringify(r.content)).toContain('nesting deeper than 256 levels');
  });

  it('and its fallback answers instead', async () => {
    const r = await client.callTool({ name: 'agent__deep_falls_back', arguments: { input: 'hi' } });
    expect(r.isError ?? false).toBe(false);
    expect(JSON.stringify(r.content)).toContain('echo: hi');
    expect(r._meta?.['switchboard/agent']).toMatchObject({ answeredBy: 'echo', fallbackFrom: [{ agent: 'deep_falls_back', code: 'downstream_error' }] });
  });

  it('so does a streamed complete event nesting that deep: its fallback answers', async () => {
    const r = await client.callTool({ name: 'agent__deep_stream', arguments: { input: 'hi' } });
    expect(r.isError ?? false).toBe(false);
    expect(r._meta?.['switchboard/agent']).toMatchObject({ answeredBy: 'echo', fallbackFrom: [{ agent: 'deep_stream', code: 'downstream_error' }] });
  });
});

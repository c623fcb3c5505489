/**
 * A streaming agent whose events all carry SSE's default name, `event: message`, and their kind in
 * the data's `type` (`token`, `complete`): what many SSE libraries write, and what seed 000's
 * client reads (`data.type`). The name `message` is the unnamed default (WHATWG HTML §9.2.6), so
 * the data's type decides, as it does for an event with no name.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

function messagePlatform(): Server {
  return createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {"type":"token","content":"Hello"}\n\n');
      res.write('data: {"type":"token","content":" world"}\n\n');
      res.end('event: message\ndata: {"type":"complete","task_id":"t_1","usage":{"input_tokens":3,"output_tokens":2}}\n\n');
    });
  });
}

describe('a streaming agent naming its events `message`', () => {
  let hub: RunningHub;
  let client: Client;
  let platform: Server;

  beforeAll(async () => {
    platform = messagePlatform();
    await new Promise<void>((resolve) => platform.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(platform.address() as AddressInfo).port}/v1`;
    const agents = { writer: { protocol: 'upagents', baseUrl, apiKey: 'ua_message_key', agentId: 'writer_v1', mode: 'stream', retries: 0 } };
    hub = await startHub({ agents }, { agents: { sleep: async () => {} } });
    client = new Client({ name: 'sse-message-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await new Promise((resolve) => platform?.close(resolve));
  });

  it('reads the tokens and the complete event by their data type, with progress for each token', async () => {
    const progress: string[] = [];
    const r = await client.callTool({ name: 'agent__writer', arguments: { input: 'hi' } }, { onprogress: (p) => progress.push(p.message ?? '') });
    expect(r.isError ?? false).toBe(false);
    expect(JSON.stringify(r.content)).toContain('Hello world');
    expect(progress.join('')).toContain('Hello');
    expect(progress.join('')).toContain('world');
  });
});

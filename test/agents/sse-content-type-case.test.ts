/**
 * A streaming agent whose server labels its stream `Text/Event-Stream; Charset=UTF-8`: media type
 * tokens are case-insensitive (RFC 9110 §8.3.1), so the answer is read as a stream, for upagents
 * and Kore alike, not as a JSON body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

function mixedCasePlatform(): Server {
  return createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'Text/Event-Stream; Charset=UTF-8' });
      if ((req.url ?? '').startsWith('/kore/')) {
        res.write('data: {"messageId":"m1","output":[{"type":"text","content":"Hello"}]}\n\n');
        res.end('data: {"messageId":"m1","sessionInfo":{"status":"idle","output":{"type":"text","content":"Hello world"}}}\n\n');
        return;
      }
      res.write('event: token\ndata: {"type":"token","content":"Hello"}\n\n');
      res.write('event: token\ndata: {"type":"token","content":" world"}\n\n');
      res.end('event: complete\ndata: {"type":"complete"}\n\n');
    });
  });
}

describe('a stream labelled Text/Event-Stream', () => {
  let hub: RunningHub;
  let client: Client;
  let platform: Server;

  beforeAll(async () => {
    platform = mixedCasePlatform();
    await new Promise<void>((resolve) => platform.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(platform.address() as AddressInfo).port}`;
    const agents = {
      writer: { protocol: 'upagents', baseUrl: `${origin}/v1`, apiKey: 'ua_case_key', agentId: 'writer_v1', mode: 'stream', retries: 0 },
      story: { protocol: 'kore', url: `${origin}/kore/story`, stream: true, retries: 0 },
    };
    hub = await startHub({ agents }, { agents: { sleep: async () => {} } });
    client = new Client({ name: 'sse-case-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await new Promise((resolve) => platform?.close(resolve));
  });

  it.each(['writer', 'story'])('reads agent %s as a stream, with progress, whatever the case of its content type', async (name) => {
    const progress: string[] = [];
    const r = await client.callTool({ name: `agent__${name}`, arguments: { input: 'hi' } }, { onprogress: (p) => progress.push(p.message ?? '') });
    expect(r.isError ?? false).toBe(false);
    expect(r.content).toEqual([{ type: 'text', text: 'Hello world' }]);
    expect(progress.join('')).toContain('Hello');
  });
});

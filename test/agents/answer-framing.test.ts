/**
 * What an agent's answer looks like on the wire must not be mistaken for something else: a body
 * whose Content-Encoding does not decode came whole, so it is the agent's protocol fault (not a
 * connection that broke after the request, which says the task may be running and counts as a
 * network failure); and an SSE keep-alive between a streaming Kore agent's messages (`event: ping`
 * with empty data) is no failed answer. Stand-in agents on loopback, a real hub, the v2 SDK client.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startAgentHub, type AgentHub } from './support.js';

function agentServer(answer: (res: import('node:http').ServerResponse) => void): { server: Server; requests: () => number } {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      answer(res);
    });
  });
  return { server, requests: () => requests };
}

const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

describe("an agent's answer on the wire", () => {
  let h: AgentHub;
  let client: Client;
  const notGzip = agentServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end('{"task_id":"t1","status":"completed","output":"not actually gzip"}');
  });
  const korePing = agentServer((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ messageId: 'm1', output: [{ type: 'text', content: 'Once ' }] })}\n\n`);
    res.write('event: ping\ndata:\n\n');
    res.write(': a comment\n\n');
    res.write(`data: ${JSON.stringify({ messageId: 'm1', output: [{ type: 'text', content: 'upon a time.' }] })}\n\n`);
    res.end(`data: ${JSON.stringify({ messageId: 'm1', sessionInfo: { status: 'idle', output: { type: 'text', content: 'Once upon a time.' } } })}\n\n`);
  });

  beforeAll(async () => {
    for (const a of [notGzip, korePing]) await new Promise<void>((r) => a.server.listen(0, '127.0.0.1', r));
    h = await startAgentHub({
      packed: { protocol: 'upagents', baseUrl: `${origin(notGzip.server)}/v1`, apiKey: 'ua_gzip_key_51c2', agentId: 'packed_v1', retries: 2 },
      story: { protocol: 'kore', url: `${origin(korePing.server)}/agents/story_v1`, stream: true, retries: 0 },
    });
    client = await bearerClient(h.hub.url, h.hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await h?.hub.stop();
    for (const a of [notGzip, korePing]) await new Promise((r) => a.server.close(r));
  });

  it('a body its Content-Encoding does not decode is a protocol failure, not a broken connection', async () => {
    const r = await client.callTool({ name: 'agent__packed', arguments: { input: 'hi' } });
    expect(r.isError).toBe(true);
    const text = (r.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain('agent packed answered with a body its Content-Encoding does not decode (Z_');
    expect(text).not.toContain('may be running the task');
    expect(r._meta).toMatchObject({ 'switchboard/agent': { failures: [{ agent: 'packed', reason: 'protocol', code: 'downstream_error' }] } });
    // A protocol failure is not retried: the agent answered.
    expect(notGzip.requests()).toBe(1);
  });

  it("a keep-alive between a streaming Kore agent's messages is skipped, and the answer stands", async () => {
    const progress: string[] = [];
    const r = await client.callTool({ name: 'agent__story', arguments: { input: 'tell me' } }, { onprogress: (p) => progress.push(p.message ?? '') });
    expect(r.isError ?? false).toBe(false);
    expect(r.content).toEqual([{ type: 'text', text: 'Once upon a time.' }]);
    expect(progress.join('')).toContain('Once ');
  });
});

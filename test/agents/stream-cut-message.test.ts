/**
 * A stream an agent ends before its answer is whole (upagents without its `complete` event, Kore
 * without the event holding `sessionInfo.output`) is not sent again, and its failure says why, as
 * a connection that broke after the request went out does (README, Agents, Resilience: "the agent
 * may be running the task … Such a failure says so"). It said only "closed its stream before the
 * complete event", with the code provider_unreachable, retryable: a caller that retried ran the
 * task twice. A upagents and a Kore agent of our own on loopback, the hub's real HTTP face.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startAgentHub, type AgentHub } from './support.js';

describe('a stream cut before its answer', () => {
  let h: AgentHub;
  let client: Client;
  let agent: Server;
  const requests = { upagents: 0, kore: 0 };

  beforeAll(async () => {
    agent = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const kore = req.url?.startsWith('/kore') === true;
        requests[kore ? 'kore' : 'upagents'] += 1;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(kore ? `data: ${JSON.stringify({ output: [{ type: 'text', content: 'Once' }] })}\n\n` : `event: token\ndata: {"content":"Once"}\n\n`);
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
    h = await startAgentHub({
      upcut: { protocol: 'upagents', baseUrl: `${origin}/v1`, agentId: 'cut_v1', apiKey: 'ua_cut_key_41f0', mode: 'stream', retries: 2 },
      korecut: { protocol: 'kore', url: `${origin}/kore/cut`, stream: true, retries: 2 },
    });
    client = await bearerClient(h.hub.url, h.hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await h?.hub.stop();
    await new Promise((r) => agent?.close(r));
  });

  it.each([
    ['upcut', 'upagents', 'closed its stream before the complete event'],
    ['korecut', 'kore', 'closed its stream before the whole answer'],
  ] as const)('%s: says the agent may be running the task, sent once', async (name, protocol, said) => {
    const r = await client.callTool({ name: `agent__${name}`, arguments: { input: 'a story' } });
    expect(r.isError).toBe(true);
    expect((r.content as Array<{ text: string }>)[0]!.text).toBe(`agent ${name} ${said}; agent ${name} may be running the task, so it was not sent again`);
    expect(r._meta).toMatchObject({ 'switchboard/agent': { failures: [{ agent: name, reason: 'transport', code: 'provider_unreachable' }] } });
    expect(requests[protocol]).toBe(1);
  });
});

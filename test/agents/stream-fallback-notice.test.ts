/**
 * A streamed call that falls back says so in a progress notification (README, Agents,
 * Resilience), also when the fallback streams nothing of its own: a stream agent that sent some
 * text and then a `complete` event that is not JSON falls back to a sync agent, and the progress
 * says the text shown so far was the failed agent's. Without it a client showing the progress read
 * "Once upon" as the start of an answer that was the fallback's, with nothing between. Our own
 * stream agent and sync agent on loopback, the v2 client on both eras.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startAgentHub, type AgentHub } from './support.js';

describe('a streamed call answered by a sync fallback', () => {
  let h: AgentHub;
  let agent: Server;

  beforeAll(async () => {
    agent = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.includes('/agents/story_v1/') === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return void res.end('event: token\ndata: {"content":"Once upon"}\n\nevent: complete\ndata: not json\n\n');
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_id: 't1', status: 'completed', output: 'A plain answer' }));
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const base = { protocol: 'upagents', baseUrl: `http://127.0.0.1:${(agent.address() as AddressInfo).port}/v1`, apiKey: 'ua_story_key_7c2d' } as const;
    h = await startAgentHub({
      story: { ...base, agentId: 'story_v1', mode: 'stream', fallback: 'plain' },
      plain: { ...base, agentId: 'plain_v1' },
    });
  });
  afterAll(async () => {
    await h?.hub.stop();
    await new Promise((r) => agent?.close(r));
  });

  it.each(['v2-auto', 'v2-legacy'] as const)('%s: the progress says the fallback answers instead, before the result', async (kind) => {
    let c: FaceClient | undefined;
    try {
      c = await connectClient(kind, { transport: 'http', url: h.hub.url, token: h.hub.token });
      const messages: string[] = [];
      const r = await c.callTool('agent__story', { input: 'a story' }, { onprogress: (p) => void messages.push(p.message ?? '') });
      expect(r.isError).toBe(false);
      expect((r.content[0] as { text: string }).text).toBe('A plain answer');
      expect(messages).toEqual(['Once upon', 'agent story stopped without an answer; agent plain answers instead, from the start']);
    } finally {
      await c?.close();
    }
  });
});

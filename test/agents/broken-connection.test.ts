/**
 * A connection to an agent that breaks after the request went out is not retried (the agent may
 * be running the task), and its failure says so, where one never made says the agent could not be
 * reached (README, Agents, Resilience). Stand-in agents on raw loopback sockets, a real hub, the
 * v2 SDK client; both keep the error code provider_unreachable.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startAgentHub, type AgentHub } from './support.js';

/** A raw TCP agent that reads each request whole, counts it, then does `then` to the connection. */
async function rawAgent(then: (socket: Socket) => void): Promise<{ server: Server; origin: string; requests: () => number }> {
  let requests = 0;
  const server = createNetServer((socket) => {
    let seen = '';
    socket.on('error', () => {});
    socket.on('data', (b) => {
      seen += b.toString('latin1');
      if (!seen.includes('\r\n\r\n') || !seen.endsWith('}')) return;
      requests++;
      then(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe('a connection to an agent that broke after the request went out', () => {
  let h: AgentHub;
  let client: Client;
  let reset: Awaited<ReturnType<typeof rawAgent>>;
  let cut: Awaited<ReturnType<typeof rawAgent>>;

  beforeAll(async () => {
    reset = await rawAgent((socket) => socket.resetAndDestroy());
    // An answer that starts, then the connection is reset halfway through its body.
    cut = await rawAgent((socket) =>
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"task_id":"t1","sta', () => socket.resetAndDestroy()),
    );
    const ua = { protocol: 'upagents', apiKey: 'ua_raw_key_9e1b', agentId: 'raw_v1', retries: 2 } as const;
    h = await startAgentHub({
      reset: { ...ua, baseUrl: `${reset.origin}/v1` },
      cut: { ...ua, baseUrl: `${cut.origin}/v1` },
      // Nothing listens on port 1 of loopback: refused before anything was sent.
      refused: { ...ua, baseUrl: 'http://127.0.0.1:1/v1' },
    });
    client = await bearerClient(h.hub.url, h.hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await h?.hub.stop();
    for (const a of [reset, cut]) await new Promise((r) => a?.server.close(r));
  });

  const failure = async (agent: string) => {
    const r = await client.callTool({ name: `agent__${agent}`, arguments: { input: 'hi' } });
    expect(r.isError).toBe(true);
    return { text: (r.content as Array<{ text: string }>)[0]!.text, meta: r._meta ?? {} };
  };

  it.each(['reset', 'cut'])('%s: says the agent may be running the task, sent once, code provider_unreachable', async (agent) => {
    const { text, meta } = await failure(agent);
    expect(text).toMatch(new RegExp(`^the connection to agent ${agent} broke after the request was sent \\(.+\\); agent ${agent} may be running the task`));
    expect(text).not.toContain('could not be reached');
    expect(meta).toMatchObject({ 'switchboard/agent': { failures: [{ agent, reason: 'transport', code: 'provider_unreachable' }] } });
    expect((agent === 'reset' ? reset : cut).requests()).toBe(1);
  });

  it('a connection never made still says the agent could not be reached', async () => {
    const { text, meta } = await failure('refused');
    expect(text).toBe('agent refused could not be reached');
    expect(meta).toMatchObject({ 'switchboard/agent': { failures: [{ agent: 'refused', reason: 'transport', code: 'provider_unreachable' }] } });
  });
});

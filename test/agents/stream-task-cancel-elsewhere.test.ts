/**
 * A stream agent's call run as an MCP Task works in the hub process that started it, while any
 * process on the data dir answers for the task (a `stdio` beside a `serve`, as users run them).
 * A tasks/cancel that reaches the other process wrote `cancelled` into the shared record, but the
 * work streamed on where it ran, the agent never told, to its end. Now the process running it
 * sees its record end and stops: the agent's stream is closed. Two real hubs on one data dir
 * (SQLite), a stream agent of our own on loopback, 2026-07-28 requests on the wire.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { modernTasksRpc } from '../helpers/raw-mcp.js';

/** A upagents stream agent that sends a token every 100 ms for a minute and notes when its stream is closed. */
function slowStreamAgent(): { server: Server; requests: IncomingMessage[]; closedAt: Array<number | undefined> } {
  const requests: IncomingMessage[] = [];
  const closedAt: Array<number | undefined> = [];
  const server = createServer((req, res) => {
    const i = requests.push(req) - 1;
    closedAt.push(undefined);
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const timer = setInterval(() => {
      if (++n > 600) {
        clearInterval(timer);
        res.end('event: complete\ndata: {"type":"complete"}\n\n');
        return;
      }
      res.write(`event: token\ndata: ${JSON.stringify({ type: 'token', content: `t${n} ` })}\n\n`);
    }, 100);
    res.on('close', () => {
      clearInterval(timer);
      closedAt[i] = Date.now();
    });
  });
  return { server, requests, closedAt };
}

describe('a stream task cancelled from another process on the data dir', () => {
  const agent = slowStreamAgent();
  let a: RunningHub;
  let b: Hub;
  let bUrl: string;

  beforeAll(async () => {
    await new Promise<void>((r) => agent.server.listen(0, '127.0.0.1', r));
    const port = (agent.server.address() as AddressInfo).port;
    const agents = {
      teller: { protocol: 'upagents', baseUrl: `http://127.0.0.1:${port}/v1`, agentId: 'teller_v1', apiKey: 'ua_teller_key', mode: 'stream' },
    };
    a = await startHub({ agents });
    const config = configSchema.parse({ integrations: {}, agents, dataDir: a.dataDir, server: { port: 0 } });
    const listener = await bindHttp(config.server, { host: '127.0.0.1' });
    b = new Hub({ config, log: silentLogger(), listener });
    b.start();
    await b.ready();
    bUrl = (await b.listen()).url;
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    agent.server.closeAllConnections();
    await new Promise((r) => agent.server.close(r));
  });

  const rpc = (url: string, method: string, params: Record<string, unknown>, name: string) => modernTasksRpc(url, a.token, method, params, name);

  it('stops the work where it runs: the agent stream is closed and the task stays cancelled', async () => {
    const created = await rpc(a.url, 'tools/call', { name: 'agent__teller', arguments: { input: 'a long story' } }, 'agent__teller');
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = created.result!['taskId'] as string;
    await eventually(() => agent.requests.length === 1);

    // The other process answers the cancel from the shared record.
    const cancelled = await rpc(bUrl, 'tasks/cancel', { taskId }, taskId);
    expect(cancelled.error).toBeUndefined();
    const at = Date.now();

    // The stream would run a minute; the process running it closes it within a few seconds.
    const closed = await eventually(() => agent.closedAt[0], 5_000);
    expect(closed - at).toBeLessThan(5_000);
    for (const url of [a.url, bUrl]) expect((await rpc(url, 'tasks/get', { taskId }, taskId)).result).toMatchObject({ status: 'cancelled' });
  });
});

/**
 * An async agent call run as an MCP Task is submitted after the CreateTaskResult has gone out, agent
 * after agent down its fallback chain. A tasks/cancel that came while the first agent was still
 * being tried cancelled the task in the hub, but the chain went on: the fallback agent was then sent
 * the task its caller had cancelled, to run (and bill) for nobody, its answer dropped. Now the chain
 * stops there: the fallback is sent nothing, and the task stays cancelled. Both protocol eras'
 * cancels; a real hub on loopback, async agents of our own, requests on the wire.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { modernTasksRpc } from '../helpers/raw-mcp.js';

/** A marketplace of two async agents: `slow_v1` answers 503 after a pause, `steady_v1` queues every task. */
function marketplace(): { server: Server; sent: string[]; answered: string[]; release: () => void } {
  const sent: string[] = [];
  const answered: string[] = [];
  let release: () => void = () => {};
  const server = createServer((req, res) => {
    const agent = decodeURIComponent(req.url?.split('/')[3] ?? '');
    sent.push(agent);
    req.resume();
    const reply = () => {
      answered.push(agent);
      if (agent === 'slow_v1') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"busy"}');
      } else {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_id: `plat_${sent.length}`, status: 'queued' }));
      }
    };
    // The slow agent answers when the test says so, once the cancel is in.
    if (agent === 'slow_v1') release = reply;
    else reply();
  });
  return { server, sent, answered, release: () => release() };
}

describe('an MCP Task cancelled while its fallback chain is being submitted', () => {
  const market = marketplace();
  const logLines: string[] = [];
  let hub: RunningHub;

  beforeAll(async () => {
    await new Promise<void>((r) => market.server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(market.server.address() as AddressInfo).port}/v1`;
    const async = { protocol: 'upagents', baseUrl: base, apiKey: 'ua_market_key', mode: 'async', retries: 0 } as const;
    hub = await startHub(
      {
        agents: {
          first: { ...async, agentId: 'slow_v1', webhookSecret: 'whsec_first_41c0', fallback: 'second' },
          second: { ...async, agentId: 'steady_v1', webhookSecret: 'whsec_second_93aa' },
        },
      },
      { log: capturedLogger(logLines, 'info') },
    );
  });
  afterAll(async () => {
    await hub?.stop();
    market.server.closeAllConnections();
    await new Promise((r) => market.server.close(r));
  });

  const rpc = (method: string, params: Record<string, unknown>, name: string) => modernTasksRpc(hub.url, hub.token, method, params, name);

  it('sends the fallback nothing once the task is cancelled, and the task stays cancelled', async () => {
    const created = await rpc('tools/call', { name: 'agent__first', arguments: { input: 'never mind' } }, 'agent__first');
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = created.result!['taskId'] as string;
    await eventually(() => market.sent.includes('slow_v1'));

    expect((await rpc('tasks/cancel', { taskId }, taskId)).error).toBeUndefined();
    market.release();

    // The chain settles one way or the other: the fallback was sent the task, or the hub stopped before it.
    await eventually(() => market.sent.includes('steady_v1') || logLines.some((l) => l.includes('ended before its submission did')));
    expect(market.sent).toEqual(['slow_v1']);
    expect((await rpc('tasks/get', { taskId }, taskId)).result).toMatchObject({ status: 'cancelled' });
  });
});

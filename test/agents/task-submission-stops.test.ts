/**
 * An async agent call run as an MCP Task is submitted after the CreateTaskResult has gone out, with
 * retries (and their Retry-After waits) when the agent is busy. The submission had a signal of its
 * own that nothing aborted: a tasks/cancel left its request in flight and its retries going, so a
 * retry the platform accepted was a task its caller had cancelled; and a hub stopped mid-submission
 * left the task `working` until its ttl. Now a cancel aborts the submission where it is, and a hub
 * that stops ends the submissions it runs as failed. A real hub on loopback, an agent of our own
 * answering 503 with Retry-After, the waits between attempts held by the test.
 */
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { modernTasksRpc } from '../helpers/raw-mcp.js';

/** An agent that is always busy: 503 with Retry-After, so the hub waits and tries again. */
function busyAgent(): { server: Server; sent: string[] } {
  const sent: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    sent.push(req.url ?? '');
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"busy"}');
  });
  return { server, sent };
}

/** The waits between attempts, held until the test releases them; each rejects when its signal aborts. */
function heldSleeps() {
  const waits: { ms: number; aborted: boolean; release: () => void }[] = [];
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const w = { ms, aborted: false, release: () => resolve() };
      waits.push(w);
      signal.addEventListener(
        'abort',
        () => {
          w.aborted = true;
          reject(signal.reason);
        },
        { once: true },
      );
    });
  return { waits, sleep };
}

describe('the submission of an agent task run as an MCP Task', () => {
  const agent = busyAgent();
  const held = heldSleeps();
  const logLines: string[] = [];
  let hub: RunningHub;

  beforeAll(async () => {
    await new Promise<void>((r) => agent.server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}/v1`;
    hub = await startHub(
      {
        agents: {
          busy: { protocol: 'upagents', baseUrl: base, apiKey: 'ua_busy_key', mode: 'async', agentId: 'busy_v1', retries: 2, webhookSecret: 'whsec_busy_5e1f' },
        },
      },
      { log: capturedLogger(logLines, 'info'), agents: { sleep: held.sleep } },
    );
  });
  afterAll(async () => {
    agent.server.closeAllConnections();
    await new Promise((r) => agent.server.close(r));
  });

  const rpc = (method: string, params: Record<string, unknown>, name: string) => modernTasksRpc(hub.url, hub.token, method, params, name);

  async function startTask(): Promise<string> {
    const created = await rpc('tools/call', { name: 'agent__busy', arguments: { input: 'please' } }, 'agent__busy');
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    return created.result!['taskId'] as string;
  }

  it('a cancel stops its retries: the wait for the next attempt ends, and the agent is sent nothing more', async () => {
    const taskId = await startTask();
    await eventually(() => agent.sent.length === 1 && held.waits.length === 1);
    expect(held.waits[0]!.ms).toBe(1_000);

    expect((await rpc('tasks/cancel', { taskId }, taskId)).error).toBeUndefined();
    await eventually(() => held.waits[0]!.aborted);
    // Even were the wait to end now, no attempt follows it.
    held.waits[0]!.release();
    await eventually(() => logLines.some((l) => l.includes('agent task ended before its submission did')));
    expect(agent.sent).toHaveLength(1);
    expect((await rpc('tasks/get', { taskId }, taskId)).result).toMatchObject({ status: 'cancelled' });
  });

  it('a hub that stops mid-submission ends the task failed, not working until its ttl', async () => {
    agent.sent.length = 0;
    await startTask();
    await eventually(() => agent.sent.length === 1 && held.waits.length === 2);

    await hub.hub.stop();
    expect(held.waits[1]!.aborted).toBe(true);
    const db = new Database(join(hub.dataDir, 'switchboard.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT state FROM agent_tasks ORDER BY created_at DESC LIMIT 1').get() as { state: string };
      expect(row.state).toBe('failed');
    } finally {
      db.close();
      rmSync(hub.dataDir, { recursive: true, force: true });
    }
    expect(agent.sent).toHaveLength(1);
  });
});

/**
 * A task's `lastUpdatedAt` is when it changed, not when a hub first read the change (README, "Long
 * calls as MCP Tasks": "`lastUpdatedAt` is the task's last change of status or message"). An async
 * agent call started as a task by one hub, whose callback lands after that hub stopped and another
 * took its place on the same data dir and port: nobody reads the task when the callback completes
 * its agent task at t1, and the first tasks/get at t2 shows t1 — on 2026-07-28 (over fetch) and on a
 * 2025-11-25 session (the 1.x SDK client). The marketplace runs in this process, so its held
 * callback outlives the first hub; both hubs and the marketplace share one injected clock.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRoutes } from '../../servers/sandbox/agents.js';
import { manualClock } from '../../src/clock.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const KEY = 'ua_last_updated_key';
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe('lastUpdatedAt of a task whose backing changed while no hub followed it', () => {
  const clock = manualClock(T0);
  let market: Server;
  let marketUrl: string;
  const hubs: RunningHub[] = [];
  let dataDir: string | undefined;

  beforeAll(async () => {
    const app = express();
    app.use('/v1', marketplaceRoutes({ apiKeys: [KEY], now: () => clock.now() }).router);
    market = createServer(app);
    await new Promise<void>((r) => market.listen(0, '127.0.0.1', r));
    marketUrl = `http://127.0.0.1:${(market.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    for (const h of hubs) await h.hub.stop().catch(() => {});
    await new Promise<void>((r) => market.close(() => r()));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is the time the callback completed the agent task (t1), not the time of the first read (t2)', async () => {
    const agents = {
      held: {
        protocol: 'upagents',
        baseUrl: marketUrl,
        apiKey: KEY,
        agentId: 'echo_v1+callback=hold',
        mode: 'async',
        webhookSecret: 'whsec_last_updated_41f0',
      },
    };
    const first = await startHub({ agents }, { clock });
    hubs.push(first);
    dataDir = first.dataDir;
    const modern = taskClient(first.url, first.token);
    const modernTask = String((await modern.tool('agent__held', { input: 'from 2026' }))['taskId']);
    const v1 = new Client({ name: 'last-updated', version: '1.0.0' });
    await v1.connect(new StreamableHTTPClientTransport(new URL(first.url), { requestInit: { headers: { authorization: `Bearer ${first.token}` } } }));
    const legacyTask = (
      await v1.request(
        { method: 'tools/call', params: { name: 'agent__held', arguments: { input: 'from 2025' }, task: { ttl: 3_600_000 } } },
        CreateTaskResultSchema,
      )
    ).task.taskId;
    await v1.close();
    const auth = { authorization: `Bearer ${KEY}` };
    const held = await eventually(async () => {
      const h = ((await (await fetch(`${marketUrl}/_callbacks`, { headers: auth })).json()) as { held: Array<{ task_id: string }> }).held;
      return h.length === 2 ? h : undefined;
    });
    // Read once while working, so the record holds the agent's status message from T0.
    expect(await modern.ok('tasks/get', { taskId: modernTask })).toMatchObject({ status: 'working', lastUpdatedAt: iso(T0) });
    await first.hub.stop();

    // Another hub on the same data dir and port (the callback URL names it) takes the callbacks at t1.
    clock.advance(60_000);
    const t1 = clock.now();
    const second = await startHub({ agents, server: { port: first.port } }, { clock, dataDir: first.dataDir });
    hubs.push(second);
    for (const h of held) {
      const r = (await (await fetch(`${marketUrl}/_callbacks/${h.task_id}/release`, { method: 'POST', headers: auth })).json()) as { statuses: number[] };
      expect(r.statuses).toEqual([200]);
    }
    // The agent tasks are done (their own updatedAt is t1); the task records have not been read since.
    const agentTasks = second.hub.db.prepare("SELECT backing_id FROM mcp_tasks WHERE backing_kind = 'agent_task'").pluck().all() as string[];
    expect(agentTasks).toHaveLength(2);
    await eventually(() => {
      const rows = second.hub.db.prepare(`SELECT state, updated_at FROM agent_tasks WHERE id IN (?, ?)`).all(...agentTasks) as Array<{
        state: string;
        updated_at: number;
      }>;
      return rows.every((r) => r.state === 'completed' && r.updated_at === t1) || undefined;
    });

    clock.advance(5 * 60_000);
    const token = (await second.hub.tokens.create({ user: 'alice' })).token;
    const done = await taskClient(second.url, token).ok('tasks/get', { taskId: modernTask });
    expect(done).toMatchObject({ status: 'completed', createdAt: iso(T0), lastUpdatedAt: iso(t1) });
    const v1again = new Client({ name: 'last-updated-2', version: '1.0.0' });
    await v1again.connect(new StreamableHTTPClientTransport(new URL(second.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect(await v1again.experimental.tasks.getTask(legacyTask)).toMatchObject({ status: 'completed', createdAt: iso(T0), lastUpdatedAt: iso(t1) });
    } finally {
      await v1again.close();
    }
  });
});

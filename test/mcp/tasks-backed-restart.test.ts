import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRoutes } from '../../servers/sandbox/agents.js';
import { CLI, eventually, runCli, tmpDir } from '../helpers/hub.js';
import { serveProcess as serve, type Serving } from '../helpers/serve-process.js';
import { taskClient } from './tasks-helpers.js';

const KEY = 'ua_tasks_restart_key';
const SECRET = 'whsec_tasks_restart_71ac';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function v1Client(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'v1-restart', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('an agent call as an MCP Task survives a restart of the hub', () => {
  const dir = tmpDir();
  let market: Server;
  let marketUrl: string;
  let hub: Serving | undefined;

  beforeAll(async () => {
    const app = express();
    app.use('/v1', marketplaceRoutes({ apiKeys: [KEY] }).router);
    market = createServer(app);
    await new Promise<void>((r) => market.listen(0, '127.0.0.1', r));
    marketUrl = `http://127.0.0.1:${(market.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGTERM');
      await hub.exited;
    }
    await new Promise<void>((r) => market.close(() => r()));
    dir.remove();
  });

  const auth = { authorization: `Bearer ${KEY}` };
  const held = async () =>
    ((await (await fetch(`${marketUrl}/_callbacks`, { headers: auth })).json()) as { held: Array<{ task_id: string; url: string }> }).held;

  it('both eras: started as tasks, the clients gone, the hub killed and restarted, the results read by task id; another user gets not found', {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port },
        agents: { slow: { protocol: 'upagents', baseUrl: marketUrl, agentId: 'echo_v1+callback=hold', apiKey: KEY, mode: 'async', webhookSecret: SECRET } },
      }),
    );
    const token = async (user: string) => {
      const made = await runCli(['tokens', 'create', '--user', user, '--config', config, '--data', data], dir.path);
      expect(made.code, made.stderr).toBe(0);
      return made.stdout.trim();
    };
    const alice = await token('alice');
    const bob = await token('bob');
    const url = `http://127.0.0.1:${port}/mcp`;

    hub = await serve(config, data, port);
    const modern = await taskClient(url, alice).tool('agent__slow', { input: 'from 2026' });
    expect(modern).toMatchObject({ resultType: 'task', status: 'working' });
    const modernTask = String(modern['taskId']);
    const first = await v1Client(url, alice);
    const legacy = await first.request(
      { method: 'tools/call', params: { name: 'agent__slow', arguments: { input: 'from 2025' }, task: { ttl: 3_600_000 } } },
      CreateTaskResultSchema,
    );
    const legacyTask = legacy.task.taskId;
    await first.close();
    // Both submitted (their callbacks held by the platform) before the kill.
    const submitted = await eventually(async () => {
      const h = await held();
      return h.length === 2 ? h : undefined;
    }, 20_000);
    hub.child.kill('SIGKILL');
    await hub.exited;
    expect(hub.child.signalCode).toBe('SIGKILL');

    hub = await serve(config, data, port);
    const c = taskClient(url, alice);
    expect(await c.ok('tasks/get', { taskId: modernTask })).toMatchObject({ status: 'working' });
    for (const h of submitted) {
      const r = (await (await fetch(`${marketUrl}/_callbacks/${h.task_id}/release`, { method: 'POST', headers: auth })).json()) as { statuses: number[] };
      expect(r.statuses).toEqual([200]);
    }

    const done = await c.until(modernTask, ['completed', 'failed', 'cancelled'], 20_000);
    expect(done).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: expect.stringContaining('echo: from 2026') }] } });
    const second = await v1Client(url, alice);
    try {
      expect(await second.experimental.tasks.getTaskResult(legacyTask, CallToolResultSchema)).toMatchObject({
        content: [{ type: 'text', text: expect.stringContaining('echo: from 2025') }],
      });
      expect(await second.experimental.tasks.getTask(legacyTask)).toMatchObject({ taskId: legacyTask, status: 'completed', ttl: 3_600_000 });
    } finally {
      await second.close();
    }

    // Another hub process on the same data dir (a stdio face beside the serve) answers too.
    const beside = new Client({ name: 'v1-stdio-beside', version: '1.0.0' });
    await beside.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'stdio', '--config', config, '--data', data, '--user', 'alice'],
        cwd: dir.path,
        stderr: 'pipe',
      }),
    );
    try {
      expect(await beside.experimental.tasks.getTask(modernTask)).toMatchObject({ taskId: modernTask, status: 'completed' });
      expect(await beside.experimental.tasks.getTaskResult(legacyTask, CallToolResultSchema)).toMatchObject({
        content: [{ type: 'text', text: expect.stringContaining('echo: from 2025') }],
      });
    } finally {
      await beside.close();
    }

    // Someone else: the one not-found answer, for either era's id, on either era.
    const other = taskClient(url, bob);
    for (const taskId of [modernTask, legacyTask])
      expect((await other.call('tasks/get', { taskId })).error).toEqual({ code: -32602, message: 'Task not found', data: { code: 'task_not_found' } });
    const bobV1 = await v1Client(url, bob);
    try {
      await expect(bobV1.experimental.tasks.getTask(legacyTask)).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('Task not found') });
      await expect(bobV1.experimental.tasks.getTaskResult(modernTask, CallToolResultSchema)).rejects.toMatchObject({ code: -32602 });
    } finally {
      await bobV1.close();
    }
  });
});

/**
 * A downstream server's task waiting for input, asked about through another hub process on the
 * data dir (a `stdio` beside a `serve`): only the process whose connection started the task can
 * hand the downstream an answer. The other one took the answers in silence, so a 2026-07-28
 * tasks/update was acknowledged and lost, and a 2025-11-25 tasks/result asked the client the same
 * question again after each delivery. Now it says so, as for a task the hub runs itself. Two real
 * hubs on one data dir (SQLite), each with the 1.x SDK task server over stdio.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { eventually, ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const SERVERS = { th: { command: process.execPath, args: [join(ROOT, 'dist/test/fixtures/task-server.js'), '--stdio'] } };
const ANSWER = { action: 'accept', content: { meaning: 'the fruit' } };

describe('answers to a downstream task that runs through another process', () => {
  let a: RunningHub;
  let b: Hub;
  let bUrl: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    a = await startHub({ mcpServers: SERVERS });
    const config = configSchema.parse({ integrations: {}, mcpServers: SERVERS, dataDir: a.dataDir, server: { port: 0 } });
    b = new Hub({ config, log: silentLogger(), listener: await bindHttp(config.server, { host: '127.0.0.1' }) });
    b.start();
    await b.ready();
    bUrl = (await b.listen()).url;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await b?.stop();
    await a?.stop();
  });

  it('are refused where they cannot be delivered, once, and taken where the task runs', async () => {
    const onA = taskClient(a.url, a.token);
    const onB = taskClient(bUrl, a.token);
    const taskId = String((await onA.tool('th__research', { topic: 'apple', ambiguous: true, stepMs: 10 }))['taskId']);
    // The server's question reaches the hub a moment after its status says input_required.
    const asking = await eventually(async () => {
      const t = await onA.ok('tasks/get', { taskId });
      return t['status'] === 'input_required' && t['inputRequests'] ? (t['inputRequests'] as Record<string, unknown>) : undefined;
    });
    const [key] = Object.keys(asking);
    expect(await onB.ok('tasks/get', { taskId })).toMatchObject({ status: 'input_required' });

    // 2026-07-28 tasks/update through the other process: refused, saying why.
    const refused = await onB.call('tasks/update', { taskId, inputResponses: { [key!]: ANSWER } });
    expect(refused.error).toMatchObject({ code: -32602, data: { code: 'invalid_params' } });
    expect(refused.error?.message).toMatch(/another Switchboard process.*call th__research again/);

    // 2025-11-25 tasks/result through the other process: asked once, then the same refusal.
    const client = new Client({ name: 'v1-downstream-input-elsewhere', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
    let asked = 0;
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      return ANSWER;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(bUrl), { requestInit: { headers: { authorization: `Bearer ${a.token}` } } }));
    clients.push(client);
    await expect(client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)).rejects.toThrow(/another Switchboard process/);
    expect(asked).toBe(1);

    // Where the task runs, the same answer finishes it.
    await onA.ok('tasks/update', { taskId, inputResponses: { [key!]: ANSWER } });
    expect(await onB.until(taskId, ['completed', 'failed', 'cancelled'])).toMatchObject({
      status: 'completed',
      result: { content: [{ text: 'report on apple (the fruit)' }] },
    });
  });
});

/**
 * A downstream server's task cancelled through another hub process on the data dir (a `stdio`
 * beside a `serve`): only the process whose connection started the task can ask the server to
 * stop it. The other one answered the cancel as done (2025-11-25: the task, still `working`;
 * 2026-07-28: the empty ack) while the work went on. Now it refuses, saying where to cancel it,
 * and the cancel where the task runs stops it. Two real hubs on one data dir (SQLite), each with
 * the 1.x SDK task server over stdio; the 1.x SDK client over a 2025 session and 2026-07-28
 * requests over fetch.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const SERVERS = { th: { command: process.execPath, args: [join(ROOT, 'dist/test/fixtures/task-server.js'), '--stdio'] } };

describe('cancelling a downstream task through another process', () => {
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

  it('is refused where it cannot reach the server, in either era, and stops the task where it runs', async () => {
    const onA = taskClient(a.url, a.token);
    const onB = taskClient(bUrl, a.token);
    const taskId = String((await onA.tool('th__hold', { label: 'long' }))['taskId']);

    // 2026-07-28 through the other process: refused, saying where to cancel it.
    const refused = await onB.call('tasks/cancel', { taskId });
    expect(refused.error).toMatchObject({ code: -32602, data: { code: 'invalid_params' } });
    expect(refused.error?.message).toMatch(/another Switchboard process.*cancel it there/);

    // 2025-11-25 through the other process: the same, not a "working" task as if it were cancelled.
    const client = new Client({ name: 'v1-downstream-cancel-elsewhere', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(bUrl), { requestInit: { headers: { authorization: `Bearer ${a.token}` } } }));
    clients.push(client);
    await expect(client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/another Switchboard process.*cancel it there/);
    expect(await onA.ok('tasks/get', { taskId })).toMatchObject({ status: 'working' });

    // Where the task runs, the cancel goes to the server and the task is cancelled for both.
    await onA.ok('tasks/cancel', { taskId });
    expect(await onB.ok('tasks/get', { taskId })).toMatchObject({ status: 'cancelled' });
    const ids = JSON.parse(((await onA.tool('th__task_ids'))['content'] as { text: string }[])[0]!.text) as Record<string, string>;
    expect(Object.values(ids)).toEqual(['cancelled']);
  });
});

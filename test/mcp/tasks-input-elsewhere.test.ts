/**
 * A task waiting for input whose work runs in another hub process on the data dir (a `stdio`
 * beside a `serve`, or a process that was killed and whose record stayed behind): the answers
 * cannot reach that work. They were taken in silence, the task kept asking, and a 2025 client's
 * tasks/result, which asks the client again after each delivery, sent it the same question
 * hundreds of times a second. Now the process that cannot deliver them says so. Two real hubs on
 * one data dir (SQLite), the conformance fixture's confirm_delete task, 2026-07-28 requests on
 * the wire and the 1.x SDK client over a 2025 session.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const ANSWER = { action: 'accept', content: { confirm: true } };

describe('answers to a task whose work runs in another process', () => {
  let a: RunningHub;
  let b: Hub;
  let bUrl: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    a = await startHub({ fixtures: { conformance: true } });
    const config = configSchema.parse({ integrations: {}, fixtures: { conformance: true }, dataDir: a.dataDir, server: { port: 0 } });
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

  it('are refused where they cannot be delivered, once, and taken where the work runs', async () => {
    const onA = taskClient(a.url, a.token);
    const onB = taskClient(bUrl, a.token);
    const taskId = String((await onA.tool('confirm_delete', { filename: 'a.txt' }))['taskId']);
    expect(await onB.until(taskId, ['input_required'])).toMatchObject({ inputRequests: { confirm: { method: 'elicitation/create' } } });

    // 2026-07-28 tasks/update through the other process: refused, saying why.
    const refused = await onB.call('tasks/update', { taskId, inputResponses: { confirm: ANSWER } });
    expect(refused.error).toMatchObject({ code: -32602, data: { code: 'invalid_params' } });
    expect(refused.error?.message).toMatch(/runs in another Switchboard process.*call confirm_delete again/);

    // 2025-11-25 tasks/result through the other process: asked once, then the same refusal.
    const client = new Client({ name: 'v1-input-elsewhere', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
    let asked = 0;
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      return ANSWER;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(bUrl), { requestInit: { headers: { authorization: `Bearer ${a.token}` } } }));
    clients.push(client);
    await expect(client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)).rejects.toThrow(/runs in another Switchboard process/);
    expect(asked).toBe(1);
    expect(await onB.ok('tasks/get', { taskId })).toMatchObject({ status: 'input_required' });

    // Where the work runs, the same answer finishes it.
    await onA.ok('tasks/update', { taskId, inputResponses: { confirm: ANSWER } });
    expect(await onB.until(taskId, ['completed', 'failed', 'cancelled'])).toMatchObject({
      status: 'completed',
      result: { content: [{ text: 'delete a.txt: accept {"confirm":true}' }] },
    });
  });
});

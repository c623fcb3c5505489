import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v1HttpClient } from '../helpers/clients.js';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A 2025-11-25 client (the 1.x SDK, over a session) asking for a task of a 2026-07-28 downstream's
 * tool. Such a server serves the Tasks extension for every tool, so each is listed to the client
 * as `taskSupport: "optional"`; the server still answers a quick tool directly. The client asked
 * for a task and reads the answer as a CreateTaskResult, so it gets a task holding that answer.
 * Two users side by side on the one fixture process.
 */
const FIXTURE = join(ROOT, 'dist/scripts/fixture-server.js');

describe('a 2025-11-25 task call of a 2026-07-28 downstream tool the server answers at once', () => {
  let hub: RunningHub;
  let bobToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--transport', 'stdio', '--era', '2026'] } } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  }, 30_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  async function connect(token: string): Promise<Client> {
    const client = await v1HttpClient(hub.url, token, 'v1-tasks');
    clients.push(client);
    return client;
  }

  it('answers with a task whose result is the server’s answer, for its caller only', async () => {
    const [alice, bob] = await Promise.all([connect(hub.token), connect(bobToken)]);
    const listed = (await alice.listTools()).tools.find((t) => t.name === 'fx__test_simple_text');
    expect(listed?.execution).toEqual({ taskSupport: 'optional' });

    // The SDK's own task stream: a task is created, then its result read.
    const types: string[] = [];
    let streamed: unknown;
    for await (const m of alice.experimental.tasks.callToolStream({ name: 'fx__test_simple_text', arguments: {} }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    })) {
      types.push(m.type);
      if (m.type === 'result') streamed = m.result;
      if (m.type === 'error') throw m.error;
    }
    expect(types[0]).toBe('taskCreated');
    expect(streamed).toMatchObject({ content: [{ type: 'text', text: 'This is a simple text response for testing.' }] });

    // The raw request, as a host that polls itself sends it; the other user cannot read the task.
    const created = await bob.request(
      { method: 'tools/call', params: { name: 'fx__test_simple_text', arguments: {}, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    expect(created.task).toMatchObject({ taskId: expect.stringMatching(/^task_/), ttl: 60_000 });
    const result = await bob.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema);
    expect(result).toMatchObject({ content: [{ type: 'text', text: 'This is a simple text response for testing.' }] });
    expect(await bob.experimental.tasks.getTask(created.task.taskId)).toMatchObject({ status: 'completed' });
    await expect(alice.experimental.tasks.getTask(created.task.taskId)).rejects.toThrow(/Task not found/);

    // A call without a task is answered as before.
    expect(await alice.callTool({ name: 'fx__test_simple_text', arguments: {} })).toMatchObject({
      content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
    });
  });
});

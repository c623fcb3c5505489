import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal, v1HttpClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A 2025-11-25 client asking for a task of a hub tool that answers at once, with no work to run:
 * an integration write refusing its arguments, or an account still to link. The 1.x SDK reads the
 * answer to a task call as a CreateTaskResult, so a plain result failed its call with a zod error
 * (-32603 "expected object" at `task`) in place of the refusal or the link. It now gets a task
 * holding that answer. Two users side by side.
 */
describe('a 2025-11-25 task call answered at once', () => {
  let hub: RunningHub;
  let bobToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  }, 30_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  async function connect(token: string): Promise<Client> {
    const client = await v1HttpClient(hub.url, token, 'v1-tasks-now');
    clients.push(client);
    return client;
  }

  /**
   * The SDK's own task stream for one call, then the task's result as tasks/result gives it. An
   * isError answer makes a 2025 task `failed` (the spec's rule), which the stream ends with.
   */
  async function asTask(client: Client, args: Record<string, unknown>): Promise<{ types: string[]; status: string; result: unknown }> {
    const types: string[] = [];
    let taskId = '';
    for await (const m of client.experimental.tasks.callToolStream({ name: 'sandbox__create_ticket', arguments: args }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    })) {
      types.push(m.type);
      if (m.type === 'taskCreated') taskId = m.task.taskId;
    }
    const { status } = await client.experimental.tasks.getTask(taskId);
    return { types, status, result: await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema) };
  }

  it('is a task holding the answer: the refusal of the arguments for one user, the link for the other', async () => {
    const [alice, bob] = await Promise.all([connect(hub.token), connect(bobToken)]);
    const listed = (await alice.listTools()).tools.find((t) => t.name === 'sandbox__create_ticket');
    expect(listed?.execution).toEqual({ taskSupport: 'optional' });

    const [refused, unlinked] = await Promise.all([asTask(alice, { title: 'x', priority: 'whenever' }), asTask(bob, { title: 'Printer' })]);
    expect(refused).toMatchObject({ status: 'failed' });
    expect([refused.types[0], refused.types.at(-1)]).toEqual(['taskCreated', 'error']);
    expect(argumentRefusal(refused.result)).toContain('priority');
    expect(unlinked).toMatchObject({ status: 'failed' });
    expect([unlinked.types[0], unlinked.types.at(-1)]).toEqual(['taskCreated', 'error']);
    expect(unlinked.result).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringContaining('/oauth/sandbox/start?link=') }] });
    expect(JSON.stringify(unlinked.result)).not.toContain('priority');
  });
});

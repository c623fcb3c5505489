/**
 * Downstream tasks of a hub that was killed (SIGKILL: nothing recorded), read from the hub started
 * after it on the same data dir through a 2025-11-25 session, which asks no replica registry. The
 * tasks could be reached only over the dead process's connections; they read `failed`, saying the
 * process running them stopped, as a 2026-07-28 request reads them, rather than `working` "ask
 * that process" until their ttl (and a tasks/result waiting that long). A real `serve` process
 * killed, an in-process hub after it, a 2026-07-28 and a 2025-11-25 downstream over stdio, the
 * 1.x SDK client; two users.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ROOT, runCli, tmpDir } from '../helpers/hub.js';
import { serveProcess, type Serving } from '../helpers/serve-process.js';
import { taskClient } from './tasks-helpers.js';

const SERVERS = {
  fx: { command: process.execPath, args: [join(ROOT, 'dist/scripts/fixture-server.js'), '--transport', 'stdio', '--era', '2026'] },
  th: { command: process.execPath, args: [join(ROOT, 'dist/test/fixtures/task-server.js'), '--stdio'] },
};

async function v1Client(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'v1-killed', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('downstream tasks of a killed hub', () => {
  const dir = tmpDir();
  let killed: Serving | undefined;
  let after: Hub | undefined;
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (killed && killed.child.exitCode === null && killed.child.signalCode === null) killed.child.kill('SIGKILL');
    await after?.stop();
    dir.remove();
  });

  it('read failed from a 2025-11-25 session of the next hub, saying the process stopped; another user gets not found', { timeout: 120_000 }, async () => {
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, mcpServers: SERVERS }));
    const token = async (user: string) => {
      const made = await runCli(['tokens', 'create', '--user', user, '--config', config, '--data', data], dir.path);
      expect(made.code, made.stderr).toBe(0);
      return made.stdout.trim();
    };
    const alice = await token('alice');
    const bob = await token('bob');

    killed = await serveProcess(config, data, 0);
    const modern = taskClient(killed.url, alice);
    const modernTask = String((await modern.tool('fx__slow_compute', { seconds: 600, label: 'long' }))['taskId']);
    const first = await v1Client(killed.url, alice);
    const legacy = await first.request(
      { method: 'tools/call', params: { name: 'th__hold', arguments: { label: 'held' }, task: { ttl: 3_600_000 } } },
      CreateTaskResultSchema,
    );
    const legacyTask = legacy.task.taskId;
    await first.close();
    expect(await modern.ok('tasks/get', { taskId: modernTask })).toMatchObject({ status: 'working' });
    killed.child.kill('SIGKILL');
    await killed.exited;

    const parsed = configSchema.parse({ integrations: {}, mcpServers: SERVERS, dataDir: data, server: { port: 0 } });
    after = new Hub({ config: parsed, log: silentLogger(), listener: await bindHttp(parsed.server, { host: '127.0.0.1' }) });
    after.start();
    await after.ready();
    const url = (await after.listen()).url;

    const second = await v1Client(url, alice);
    clients.push(second);
    for (const taskId of [modernTask, legacyTask]) {
      const task = await second.experimental.tasks.getTask(taskId);
      expect(task, taskId).toMatchObject({
        status: 'failed',
        statusMessage: expect.stringMatching(/^The Switchboard process running this task on (fx|th) stopped/),
      });
    }
    await expect(second.experimental.tasks.getTaskResult(legacyTask, CallToolResultSchema)).rejects.toThrow(/process running this task on th stopped/);
    // The same answer on 2026-07-28, and nothing for another user.
    expect(await taskClient(url, alice).ok('tasks/get', { taskId: legacyTask })).toMatchObject({ status: 'failed' });
    const other = await v1Client(url, bob);
    clients.push(other);
    await expect(other.experimental.tasks.getTask(modernTask)).rejects.toThrow(/Task not found/);
  });
});

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketplaceRoutes } from '../../servers/sandbox/agents.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually, runCli, tmpDir } from '../helpers/hub.js';
import { serveProcess as serve, type Serving } from '../helpers/serve-process.js';

const KEY = 'ua_crash_test_key';
const SECRET = 'whsec_crash_test_9d2e';
const CALLS = 4;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('async agent tasks survive a SIGKILL of the hub', () => {
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

  it('callbacks that arrive after a restart complete their tasks, and task_status returns the results', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port },
        agents: {
          slow: {
            protocol: 'upagents',
            baseUrl: marketUrl,
            agentId: 'echo_v1+callback=hold',
            apiKey: KEY,
            mode: 'async',
            webhookSecret: SECRET,
            waitMs: 60_000,
          },
        },
      }),
    );
    const created = await runCli(['tokens', 'create', '--user', 'alice', '--config', config, '--data', data], dir.path);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const bobMade = await runCli(['tokens', 'create', '--user', 'bob', '--config', config, '--data', data], dir.path);
    const bobToken = bobMade.stdout.trim();
    const url = `http://127.0.0.1:${port}/mcp`;

    hub = await serve(config, data, port);
    const first = await connectClient('v2-auto', { transport: 'http', url, token });
    // Calls that wait on their callbacks (waitMs is a minute): none can answer before the kill.
    const pending = Array.from({ length: CALLS }, (_, i) =>
      first.callTool('agent__slow', { input: `task ${i}` }).then(
        () => 'answered',
        () => 'cut',
      ),
    );
    const submitted = await eventually(async () => {
      const h = await held();
      return h.length === CALLS ? h : undefined;
    }, 20_000);
    hub.child.kill('SIGKILL');
    await hub.exited;
    expect(hub.child.signalCode).toBe('SIGKILL');
    expect(await Promise.all(pending)).toEqual(Array(CALLS).fill('cut'));
    await first.close().catch(() => {});

    hub = await serve(config, data, port);
    // Each callback is signed and sent now, to the URL the dead hub gave: the restarted one takes it.
    for (const h of submitted) {
      const r = (await (await fetch(`${marketUrl}/_callbacks/${h.task_id}/release`, { method: 'POST', headers: auth })).json()) as { statuses: number[] };
      expect(r.statuses).toEqual([200]);
    }
    const taskIds = submitted.map((h) => h.url.split('/').at(-1)!);
    for (const id of taskIds) expect(id).toMatch(/^at_[A-Za-z0-9_-]{22}$/);

    const clients: FaceClient[] = [
      await connectClient('v2-auto', { transport: 'http', url, token }),
      await connectClient('v1', { transport: 'http', url, token }),
    ];
    const bob = await connectClient('v2-legacy', { transport: 'http', url, token: bobToken });
    try {
      const replies = new Set<string>();
      for (const [i, id] of taskIds.entries()) {
        const c = clients[i % clients.length]!;
        const s = await eventually(async () => {
          const r = (await c.callTool('agent__task_status', { taskId: id })).structuredContent as { state: string; result?: { reply: string } };
          return r.state === 'completed' ? r : undefined;
        }, 20_000);
        // answeredBy is there only when the dead hub read the submission's answer before the kill;
        // otherwise the callback bound the task to the platform's id on its own.
        expect(s).toMatchObject({ taskId: id, state: 'completed', agent: 'slow' });
        replies.add(s.result!.reply);
        // Still the owner's only, after the restart.
        expect((await bob.callTool('agent__task_status', { taskId: id })).isError).toBe(true);
      }
      expect([...replies].sort()).toEqual(Array.from({ length: CALLS }, (_, i) => `echo: task ${i}`).sort());
    } finally {
      for (const c of [...clients, bob]) await c.close();
    }
  });
});

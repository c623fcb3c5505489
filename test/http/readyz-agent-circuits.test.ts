/**
 * /readyz names each agent's circuit, as it names each integration's: an agent whose circuit is
 * open fails every call at once with circuit_open, and /readyz said "ready" then without naming it.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/** A loopback port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('/readyz and the agents’ circuits', () => {
  let h: RunningHub;
  beforeAll(async () => {
    const port = await closedPort();
    h = await startHub({
      agents: {
        gone: { protocol: 'upagents', baseUrl: `http://127.0.0.1:${port}/v1`, agentId: 'agent_gone_v1', apiKey: 'k', timeoutMs: 1000, retries: 0 },
      },
    });
  });
  afterAll(() => h.stop());

  it('says ready before any call, then degraded naming the agent once its circuit opens', async () => {
    const base = h.url.replace(/\/mcp$/, '');
    const before = await fetch(`${base}/readyz`);
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ status: 'ready' });

    const client = await bearerClient(h.url, h.token);
    try {
      // Five failures in a row open an agent's circuit (src/agents/source.ts); the sixth call is refused at once.
      for (let i = 0; i < 6; i++) await client.callTool({ name: 'agent__gone', arguments: { input: 'hello' } });
    } finally {
      await client.close();
    }
    const after = await fetch(`${base}/readyz`);
    // Degraded, not out of the balancer: the hub still serves everything else.
    expect(after.status).toBe(200);
    const body = (await after.json()) as { status: string; agents?: Record<string, { state: string; retryAt: string | null }> };
    expect(body.status).toBe('degraded');
    expect(body.agents?.['gone']?.state).toBe('open');
    expect(body.agents?.['gone']?.retryAt).toEqual(expect.any(String));
  });
});

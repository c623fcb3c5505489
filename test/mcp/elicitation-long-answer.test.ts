import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/** How long the server and the hub's call wait: five minutes, for a person to fill a form. */
const LONG_MS = 300_000;

/** A 2025-era server that asks its caller a question during a call and waits as long as a person may take. */
function patientServer(): Promise<{ url: string; server: HttpServer }> {
  const build = () => {
    const s = new McpServer({ name: 'patient', version: '1.0.0' });
    s.registerTool('confirm', { description: 'Asks for a name and waits for it' }, async (extra) => {
      const answer = await extra.sendRequest(
        { method: 'elicitation/create', params: { message: 'Who approves?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } } },
        ElicitResultSchema,
        { timeout: LONG_MS },
      );
      return { content: [{ type: 'text', text: `${answer.action} ${String(answer.content?.['name'])}` }] };
    });
    return s;
  };
  const server = createServer(sdk1SessionsListener(build));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server })),
  );
}

describe('an elicitation a person answers after more than a minute, under a longer timeoutMs', () => {
  let hub: RunningHub;
  let server: HttpServer;

  beforeAll(async () => {
    const s = await patientServer();
    server = s.server;
    // No keepalive check while the clock is stepped by hand: it is not what is tested here.
    hub = await startHub({ mcpServers: { patient: { url: s.url, timeoutMs: LONG_MS } } }, { keepaliveMs: 24 * 3_600_000 });
  });

  afterAll(async () => {
    vi.useRealTimers();
    await hub?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  it('reaches the server, as it does directly, rather than failing the call at the SDK’s 60 s', async () => {
    let asked = false;
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const client = new Client(
      { name: 'slow-person', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'legacy' } },
    );
    client.setRequestHandler('elicitation/create', async () => {
      asked = true;
      await answered;
      return { action: 'accept', content: { name: 'Dana' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      // Timers by hand from before the call, so the waits it starts are stepped, not slept through.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const call = client.callTool({ name: 'patient__confirm', arguments: {} }, { timeout: 2 * LONG_MS });
      // Until the person is asked: the clock steps 10 ms at a time, and sockets are read between steps.
      for (let i = 0; !asked && i < 2_000; i++) {
        await vi.advanceTimersByTimeAsync(10);
        await new Promise<void>((r) => setImmediate(r));
      }
      expect(asked).toBe(true);
      // Ninety seconds pass while the person reads the form.
      await vi.advanceTimersByTimeAsync(90_000);
      vi.useRealTimers();
      answer();
      const r = (await call) as CallToolResult;
      expect(r.isError).toBeFalsy();
      expect(r.content).toEqual([{ type: 'text', text: 'accept Dana' }]);
    } finally {
      vi.useRealTimers();
      await client.close();
    }
  });
});

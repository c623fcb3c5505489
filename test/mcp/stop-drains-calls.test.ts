/**
 * A hub that stops (SIGTERM, stdin closed) while calls are under way, a 2025 session's or 2026-07-28
 * requests (whose closed stream would be their cancel, without a word): a call that
 * ends within the 2 s a stop gives requests is answered, and one still running after that is
 * answered `hub_stopping` — never left with a closed stream and no answer, which a client would
 * try to resume at a hub that is gone and then wait out its own timeout.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { ASKING } from '../helpers/asking.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { modernEnvelope } from '../helpers/raw-mcp.js';

let hub: RunningHub | undefined;
afterEach(async () => {
  await hub?.stop();
  hub = undefined;
});

async function eraClient(running: RunningHub, mode: 'legacy' | 'auto'): Promise<Client> {
  const client = new Client({ name: 'stop-test', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(running.url), { requestInit: { headers: { authorization: `Bearer ${running.token}` } } }));
  return client;
}

/** Calls `hold` for `ms` and resolves once the call runs at the server (its first progress arrived). */
async function holding(client: Client, ms: number): Promise<{ outcome: Promise<unknown> }> {
  let running!: () => void;
  const started = new Promise<void>((r) => (running = r));
  const outcome = client.callTool({ name: 'a__hold', arguments: { ms } }, { onprogress: () => running(), timeout: 60_000 }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  await started;
  return { outcome };
}

describe('a stopping hub and the calls under way', () => {
  it.each(['legacy', 'auto'] as const)(
    '%s era: answers the call that ends within the drain, and tells the one that does not that the hub stopped',
    async (mode) => {
      hub = await startHub({ mcpServers: { a: { command: process.execPath, args: [ASKING, '--v1-stdio'] } } });
      const running = hub;
      const client = await eraClient(running, mode);
      const short = await holding(client, 500);
      const long = await holding(client, 30_000);
      const stopping = running.hub.stop();
      expect(await short.outcome).toEqual({ result: expect.objectContaining({ content: [{ type: 'text', text: 'held' }] }) });
      expect(await long.outcome).toEqual({
        error: expect.objectContaining({ code: -32000, message: expect.stringContaining('the hub stopped before a__hold finished') }),
      });
      await stopping;
      hub = undefined;
    },
  );
});

describe('a stopping hub and new work', () => {
  it('refuses a new session, a new 2026-07-28 request and a new stream with 503 hub_stopping and Retry-After, while the call under way still gets its answer', async () => {
    hub = await startHub({ mcpServers: { a: { command: process.execPath, args: [ASKING, '--v1-stdio'] } } });
    const running = hub;
    const client = await eraClient(running, 'legacy');
    const long = await holding(client, 30_000);
    const stopping = running.hub.stop();
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(running.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${running.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(body),
      });
    const initialize = await post(
      {},
      { jsonrpc: '2.0', id: 7, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'late', version: '1' } } },
    );
    const modern = await post(
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      { jsonrpc: '2.0', id: 8, method: 'tools/list', params: { _meta: modernEnvelope() } },
    );
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const stream = await fetch(running.url, {
      headers: { authorization: `Bearer ${running.token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    });
    for (const [res, id] of [
      [initialize, 7],
      [modern, 8],
      [stream, null],
    ] as const) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toMatchObject({ id, error: { code: -32000, data: { code: 'hub_stopping' } } });
    }
    expect(await long.outcome).toEqual({
      error: expect.objectContaining({ code: -32000, message: expect.stringContaining('the hub stopped before a__hold finished') }),
    });
    await stopping;
    hub = undefined;
  });
});

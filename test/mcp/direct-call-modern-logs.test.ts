/**
 * A 2026-07-28 tools/call that asked for no progress but gave a `logLevel`, to a downstream server
 * that logs during the call: the SDK's handler (its default response mode) answers it with an
 * event stream once the call says something, so the log messages come before the result. The
 * hub's direct path must do the same, not drop them into a JSON body; a call that says nothing
 * is still one JSON body. Real hub on loopback, the chatty 1.x SDK server over stdio, raw POSTs
 * and the v2 SDK client on the 2026 era.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { rawModernCallMessages } from '../helpers/raw-mcp.js';

const CHATTY = join(ROOT, 'dist/test/fixtures/chatty-server.js');
/** An envelope key the direct path does not know: the request goes the SDK's way. */
const VIA_SDK = { 'io.modelcontextprotocol/x-test': 1 };

interface Rpc {
  method?: string;
  params?: { level?: string; data?: unknown };
  result?: { content?: { type: string; text?: string }[] };
}

function call(hub: RunningHub, name: string, args: Record<string, unknown>, meta: Record<string, unknown>): Promise<{ contentType: string; messages: Rpc[] }> {
  return rawModernCallMessages<Rpc>(hub.url, hub.token, name, args, meta);
}

/** What a client reads: the log messages' data, then the result's text. */
function seen(messages: Rpc[]): unknown[] {
  return messages.map((m) => (m.method === 'notifications/message' ? `log ${String(m.params?.data)}` : m.result?.content?.[0]?.text));
}

describe('a 2026-07-28 call with a logLevel and no progress token', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ mcpServers: { chatty: { command: process.execPath, args: [CHATTY] } } });
  }, 30_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('gets the log messages said during the call before its result, as the SDK way sends them', async () => {
    const level = { 'io.modelcontextprotocol/logLevel': 'info' };
    const direct = await call(hub, 'chatty__chatty', { tag: 'D', together: 1 }, level);
    const sdk = await call(hub, 'chatty__chatty', { tag: 'D', together: 1 }, { ...level, ...VIA_SDK });
    expect(seen(sdk.messages)).toEqual(['log D 1', 'log D 2', 'D done']);
    expect(seen(direct.messages)).toEqual(seen(sdk.messages));
    expect(direct.contentType).toContain('text/event-stream');
  });

  it('is still one JSON body when the call says nothing before its answer', async () => {
    const quiet = await call(hub, 'chatty__later', { tag: 'Q' }, { 'io.modelcontextprotocol/logLevel': 'info' });
    expect(quiet.contentType).toContain('application/json');
    expect(seen(quiet.messages)).toEqual(['Q later']);
  });

  it('reaches the v2 SDK client on the 2026 era', async () => {
    const client = new Client({ name: 'logs', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    const logs: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => void logs.push(n.params.data));
    try {
      await client.callTool({ name: 'chatty__chatty', arguments: { tag: 'V', together: 1 }, _meta: { 'io.modelcontextprotocol/logLevel': 'info' } });
      expect(logs).toEqual(['V 1', 'V 2']);
    } finally {
      await client.close();
    }
  });
});

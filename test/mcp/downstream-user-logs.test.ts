import { join } from 'node:path';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * One user, two MCP clients (two 2025-11-25 sessions), a stdio server with a process per user
 * (`isolation: "user"`): both clients call at once and the server logs during each call. Over
 * stdio nothing says which call a log message belongs to, so with calls of both clients in flight
 * neither client is shown it (it may be the other's); a lone call's messages reach its own client,
 * and what the server says outside any call reaches the user's sessions, as before.
 */
const CHATTY = join(ROOT, 'dist/test/fixtures/chatty-server.js');

interface Caller {
  client: Client;
  logs: string[];
}

async function connect(hub: RunningHub, name: string): Promise<Caller> {
  const logs: string[] = [];
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'legacy' } });
  client.setNotificationHandler('notifications/message', (n) => void logs.push(String(n.params.data)));
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  await client.setLoggingLevel('debug');
  return { client, logs };
}

const textOf = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe('log messages of a process per user, with two clients of that user', () => {
  let hub: RunningHub;
  let a: Caller;
  let b: Caller;

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { chatty: { command: process.execPath, args: [CHATTY], isolation: 'user' } } });
    [a, b] = await Promise.all([connect(hub, 'client-a'), connect(hub, 'client-b')]);
  });
  afterAll(async () => {
    await Promise.allSettled([a?.client.close(), b?.client.close()]);
    await hub?.stop();
  });

  it('shows neither client the log messages said while calls of both are in flight', async () => {
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: 'chatty__chatty', arguments: { tag: 'A', together: 2 } }),
      b.client.callTool({ name: 'chatty__chatty', arguments: { tag: 'B', together: 2 } }),
    ]);
    expect([textOf(ra), textOf(rb)]).toEqual(['A done', 'B done']);
    // Said outside any call, it goes to both of the user's sessions, after whatever was sent there before.
    expect(textOf(await a.client.callTool({ name: 'chatty__later', arguments: { tag: 'X' } }))).toBe('X later');
    await eventually(() => a.logs.includes('X after') && b.logs.includes('X after'));
    expect(a.logs.filter((l) => l.startsWith('B '))).toEqual([]);
    expect(b.logs.filter((l) => l.startsWith('A '))).toEqual([]);
  });

  it('shows a lone call’s log messages to its own client only', async () => {
    expect(textOf(await b.client.callTool({ name: 'chatty__chatty', arguments: { tag: 'C', together: 1 } }))).toBe('C done');
    await eventually(() => b.logs.includes('C 1') && b.logs.includes('C 2'));
    expect(textOf(await a.client.callTool({ name: 'chatty__later', arguments: { tag: 'Y' } }))).toBe('Y later');
    await eventually(() => a.logs.includes('Y after'));
    expect(a.logs.filter((l) => l.startsWith('C '))).toEqual([]);
  });
});

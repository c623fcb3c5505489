import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A server with no cached lists still starting past its startupTimeoutMs (an `npx -y` download):
 * the first list went out without its tools, but a client that knows a tool's name (from an
 * earlier session) and calls it is answered by the server once it is up, as a call to a tool a
 * cached list lacks is, not "Unknown tool" while the server is a moment from answering.
 */
describe('a call to a tool of a server still starting, with no cached list', () => {
  let hub: RunningHub | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await hub?.stop();
  });

  it('waits for the server (at most its startupTimeoutMs) and is answered', async () => {
    // Up about 2.5 s after its spawn; the hub gives up waiting for it after 2 s.
    const late = { command: process.execPath, args: ['-e', 'setTimeout(() => import(process.argv[1]), 2500)', FIXTURE], startupTimeoutMs: 2_000 };
    hub = await startHub({ mcpServers: { fx: late } });
    client = new Client({ name: 'knows-its-tools', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    // The precondition: the server's tools are not listed yet.
    expect((await client.listTools()).tools.some((t) => t.name === 'fx__echo')).toBe(false);

    const r = (await client.callTool({ name: 'fx__echo', arguments: { text: 'hello' } })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(r.content).toEqual([{ type: 'text', text: 'hello' }]);
  }, 30_000);
});

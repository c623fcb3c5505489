import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * SEP-2243: a tool that marks an argument with `x-mcp-header` makes its server reject a 2026-07-28
 * call whose `Mcp-Param-*` header is missing or disagrees with the body. The hub calls such a tool
 * as a client would, mirroring the header from the tool's listed schema. The downstream here is a
 * second hub serving the conformance fixture, whose HTTP face checks the headers.
 */

const hubs: RunningHub[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const h of hubs.splice(0).reverse()) await h.stop();
});

async function connect(h: RunningHub, mode: 'auto' | 'legacy'): Promise<Client> {
  const client = new Client({ name: 'param-headers-test', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
  clients.push(client);
  return client;
}

describe('Mcp-Param headers on calls to a 2026-07-28 downstream', () => {
  it('are mirrored from the listed schema, Base64 where the value is not visible ASCII, for callers of both eras', async () => {
    const downstream = await startHub({ fixtures: { conformance: true } });
    hubs.push(downstream);
    const hub = await startHub({ mcpServers: { fx: { url: downstream.url, headers: { authorization: `Bearer ${downstream.token}` } } } });
    hubs.push(hub);

    // The downstream refuses a call without the header: the check the mirroring has to pass.
    const direct = await fetch(downstream.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${downstream.token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'test_param_headers',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'test_param_headers',
          arguments: { region: 'eu-west-1' },
          _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    expect(direct.status).toBe(400);

    for (const mode of ['auto', 'legacy'] as const) {
      const client = await connect(hub, mode);
      for (const region of ['eu-west-1', ' Zürich ', '=?base64?not-a-sentinel?=']) {
        const result = await client.callTool({ name: 'fx__test_param_headers', arguments: { region } });
        expect(result.isError ?? false).toBe(false);
        expect(result.content).toEqual([{ type: 'text', text: `region=${region}` }]);
      }
    }
  });
});

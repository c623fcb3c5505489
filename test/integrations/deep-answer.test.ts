import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, type LocalApi } from '../helpers/local-api.js';

/** JSON of `levels` nested arrays: 100 000 of them are 200 kB, far under the response cap. */
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

/**
 * A provider answer of deeply nested JSON, through a real MCP client: a clear tool error naming the
 * nesting, as the hub's other JSON entrances refuse it, never the engine's stack overflow.
 */
describe('a provider answer that nests too deep', () => {
  let api: LocalApi;
  let hub: RunningHub;
  let client: Client;

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const levels = req.url === '/api/deep' ? 100_000 : 256;
      res.writeHead(200, { 'content-type': 'application/json' }).end(nested(levels));
    });
    const read = (path: string) => ({ description: path, method: 'GET', path, readOnly: true });
    hub = await startHub({
      integrations: { p: keyedIntegration(api, { deep: read('/deep'), shallow: read('/shallow') }) },
    });
    client = await bearerClient(hub.url, hub.token, 'deep-answer-test');
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await api?.close();
  });

  it('answers 100 000 nested arrays with a tool error naming the limit', async () => {
    const r = await client.callTool({ name: 'p__deep', arguments: {} });
    expect(r).toEqual({
      content: [
        {
          type: 'text',
          text: 'P answered GET /deep with JSON that nests deeper than 256 levels of arrays and objects, which the hub does not read',
        },
      ],
      isError: true,
      _meta: { 'switchboard/error': { code: 'downstream_error', retryable: false } },
    });
  });

  it('still shows JSON of 256 levels as the JSON it is', async () => {
    const r = await client.callTool({ name: 'p__shallow', arguments: {} });
    expect(r.isError).toBeFalsy();
    expect(JSON.parse((r.content as Array<{ text: string }>)[0]!.text)).toEqual(JSON.parse(nested(256)));
  });
});

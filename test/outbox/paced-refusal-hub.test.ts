/**
 * README (Every call to a provider goes through one client): with a `rateLimit` block, a read
 * whose rate limit is spent for longer than `api.maxRetryAfterMs` is answered at once with a
 * retryable `source_unavailable` result naming when to retry, and nothing is sent. Through a real
 * hub (whose pacer is the in-process bucket pacer behind the store's shared buckets) and a real MCP
 * client, against a provider on loopback that answers the first read 429 with `Retry-After: 120`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notesIntegration } from '../fixtures/bucket-api.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { type RunningHub, startHub } from '../helpers/hub.js';

describe('a read after a 429 whose Retry-After is longer than the hub waits', () => {
  let server: Server;
  let hub: RunningHub;
  let client: FaceClient;
  let reads = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      reads++;
      if (reads === 1) res.writeHead(429, { 'retry-after': '120', 'content-type': 'application/json' }).end('{"message":"slow down"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const list = { description: 'Lists notes', method: 'GET', path: '/notes', readOnly: true, input: { type: 'object', properties: {} } };
    hub = await startHub({
      integrations: {
        notes: {
          ...notesIntegration({ url }, { rateLimit: { perApp: { perSecond: 5, burst: 5 } }, moreTools: { list } }),
          // A long timeout: held until it, the read would plainly not be answered at once.
          api: { timeoutMs: 30_000, maxRetryAfterMs: 10_000 },
        },
      },
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('is refused at once, retryable, saying when to retry, and sends nothing', { timeout: 60_000 }, async () => {
    const first = await client.callTool('notes__list', {});
    expect(first.isError).toBe(true);
    expect(reads).toBe(1);

    const t0 = performance.now();
    const r = await client.callTool('notes__list', {});
    const tookMs = performance.now() - t0;

    expect(r.isError).toBe(true);
    expect(r.errorCode).toBe('source_unavailable');
    expect(textOf(r)).toMatch(/the rate limit of Notes is spent: no request may be sent before \S+; retry after 1[12]\d s \(nothing was sent\)/);
    expect(reads).toBe(1);
    expect(tookMs).toBeLessThan(5_000);
  });
});

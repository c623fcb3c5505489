/**
 * A Retry-After in seconds with a fraction (Shopify sends `Retry-After: 2.0`) through a real MCP
 * client against a local API: a read waits that long before its retry, and a wait past the cap is
 * named in the failure. A number is never read as a date ("1.5" parsed as 5 January 2001, a wait of nothing).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { parseRetryAfter } from '../../src/providers/answer-outcome.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { connectMcp, type McpUser } from '../integrations/mcp.js';

describe('a Retry-After with a fraction of a second', () => {
  const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
  const sleeps: number[] = [];
  let api: Server;
  /** Retry-After values to answer 429 with, in order, before the 200s. */
  const limited: string[] = [];
  let hits = 0;
  let hub: RunningHub;
  let mcp: McpUser;

  beforeAll(async () => {
    api = createServer((req, res) => {
      hits++;
      req.resume();
      const wait = limited.shift();
      if (wait !== undefined)
        return void res.writeHead(429, { 'retry-after': wait, 'content-type': 'application/json' }).end('{"errors":"Exceeded 2 calls per second"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"products":[]}');
    }).listen(0, '127.0.0.1');
    await once(api, 'listening');
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/admin`;
    hub = await startHub(
      {
        integrations: {
          shop: {
            type: 'custom',
            title: 'Shop',
            auth: { type: 'apiKey', header: 'x-shopify-access-token', value: 'shpat_test' },
            apiBaseUrl,
            api: { maxRetryAfterMs: 1_500 },
            tools: {
              products: { description: 'Lists products', method: 'GET', path: '/products.json', readOnly: true },
            },
          },
        },
      },
      {
        clock,
        provider: {
          sleep: async (ms) => {
            sleeps.push(ms);
            clock.advance(ms);
          },
        },
      },
    );
    mcp = await connectMcp(hub.url, hub.token, { era: 'auto' });
  });
  afterAll(async () => {
    await mcp?.close();
    await hub?.stop();
    api?.closeAllConnections();
    await new Promise<void>((r) => api.close(() => r()));
  });

  it('a read waits out "1.5" and "0.5" before trying again', async () => {
    sleeps.length = 0;
    hits = 0;
    limited.push('1.5', '0.5');
    const r = await mcp.call('shop__products', {});
    expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
    expect(hits).toBe(3);
    expect(sleeps).toEqual([1_500, 500]);
  });

  it('a wait of "2.0", past api.maxRetryAfterMs, is not waited out: the failure names it in retryAfterMs', async () => {
    sleeps.length = 0;
    hits = 0;
    limited.push('2.0');
    const r = await mcp.call('shop__products', {});
    expect(r.isError).toBe(true);
    expect(hits).toBe(1);
    expect(sleeps).toEqual([]);
    expect(r._meta?.['switchboard/error']).toMatchObject({ code: 'source_unavailable', retryable: true, retryAfterMs: 2_000 });
  });

  it('reads no date out of a bare number', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('10 ', now)).toBe(10_000);
    expect(parseRetryAfter('1.5.2', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
  });
});

import type { ServerResponse } from 'node:http';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal, bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * What a template tool's caller gets from the provider's answer, through a real MCP client
 * against a local provider: a failure carries the hub's `{ code, retryable }` as the hub's own
 * failures do.
 */
/** A PNG's signature and the start of its header chunk: not UTF-8 (0x89, 0xff). */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xff, 0xd8]);
const PDF = Buffer.from('%PDF-1.7\n\xe2\xe3\xcf\xd3', 'latin1');

const routes: Record<string, (res: ServerResponse, url: URL) => void> = {
  '/api/r429': (res) => res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' }).end('{"message":"slow down"}'),
  // Seconds with a fraction, as Shopify sends them.
  '/api/r429frac': (res) => res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2.0' }).end('{"errors":"Exceeded 2 calls per second"}'),
  '/api/r500': (res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"boom"}'),
  '/api/r401': (res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}'),
  '/api/r403': (res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Resource not accessible by integration"}'),
  // GitHub's primary limit: 403, the window spent, its reset an instant in epoch seconds.
  '/api/r403primary': (res) =>
    res
      .writeHead(403, {
        'content-type': 'application/json',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 90),
      })
      .end('{"message":"API rate limit exceeded"}'),
  '/api/r403limit': (res) => res.writeHead(403, { 'content-type': 'application/json', 'retry-after': '60' }).end('{"message":"secondary rate limit"}'),
  '/api/r404': (res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}'),
  // GitHub's 404 for what the token may not see, naming the scopes the endpoint accepts and those the token has.
  '/api/r404scope': (res) =>
    res
      .writeHead(404, { 'content-type': 'application/json', 'x-accepted-oauth-scopes': 'repo', 'x-oauth-scopes': 'read:user, public_repo' })
      .end('{"message":"Not Found"}'),
  // A GitHub App's token: the permission the endpoint needs.
  '/api/r403app': (res) =>
    res
      .writeHead(403, { 'content-type': 'application/json', 'x-accepted-github-permissions': 'issues=write' })
      .end('{"message":"Resource not accessible by integration"}'),
  // A Discord/X snowflake past 2^53 (JSON.parse reads it as 1234567890123456800).
  '/api/msgs': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages":[{"id":1234567890123456789,"n":7}]}'),
  // A page of a list; the next one named with arguments of several declared types.
  '/api/list': (res, url) =>
    res
      .writeHead(200, {
        'content-type': 'application/json',
        ...(url.searchParams.get('page') === '2' ? {} : { link: '</api/list?page=2&per_page=1&cursor=0042&draft=true&q=x>; rel="next"' }),
      })
      .end(`[{"page":${url.searchParams.get('page') ?? 1}}]`),
  '/api/png': (res) => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG),
  '/api/pdf': (res) => res.writeHead(200, { 'content-type': 'application/pdf' }).end(PDF),
  '/api/latin': (res) => res.writeHead(200, { 'content-type': 'text/plain; charset=ISO-8859-1' }).end(Buffer.from('café crème', 'latin1')),
  '/api/refused': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":false,"error":"channel_not_found"}'),
};

const read = (path: string, properties: Record<string, unknown> = {}, required: string[] = []) => ({
  description: path,
  method: 'GET',
  path,
  readOnly: true,
  input: { type: 'object', properties, required },
});

describe("a template tool's answer from its provider", () => {
  let api: LocalApi;
  let hub: RunningHub;
  let client: Client;
  /** Paths of every request the provider got. */
  const seen: string[] = [];

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url.pathname);
      const route = routes[url.pathname];
      if (route) route(res, url);
      else res.writeHead(404).end();
    });
    hub = await startHub({
      integrations: {
        p: keyedIntegration(
          api,
          {
            ...Object.fromEntries(Object.keys(routes).map((p) => [p.slice('/api/'.length), read(p.slice('/api'.length))])),
            item: read('/items/{id}', { id: { type: 'string' }, q: { type: 'string' } }, ['id']),
            list: read('/list', {
              page: { type: 'integer' },
              per_page: { type: ['integer', 'null'] },
              cursor: { type: 'string' },
              draft: { type: 'boolean' },
              q: {},
            }),
          },
          // Not sent again: each answer is the call's.
          { api: { retries: 0 }, refusal: { okAt: 'ok', messageAt: 'error' } },
        ),
      },
    });
    client = await bearerClient(hub.url, hub.token, 'provider-answers-test');
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await api?.close();
  });

  it("a provider's failure carries the hub's code: retryable for 429, 5xx and a rate-limit 403, final for a refusal", async () => {
    const codes: Record<string, unknown> = {};
    for (const name of ['r429', 'r500', 'r401', 'r403', 'r403limit', 'r403primary', 'r404', 'refused']) {
      const r = await client.callTool({ name: `p__${name}`, arguments: {} });
      expect(r.isError).toBe(true);
      codes[name] = r._meta?.['switchboard/error'];
    }
    expect(codes).toEqual({
      // The wait the provider named rides along, as the hub's own errors carry it.
      r429: { code: 'source_unavailable', retryable: true, retryAfterMs: 120_000 },
      r500: { code: 'source_unavailable', retryable: true },
      r401: { code: 'provider_unauthorized', retryable: false },
      r403: { code: 'provider_unauthorized', retryable: false },
      r403limit: { code: 'source_unavailable', retryable: true, retryAfterMs: 60_000 },
      r403primary: { code: 'source_unavailable', retryable: true, retryAfterMs: expect.any(Number) },
      r404: { code: 'downstream_error', retryable: false },
      refused: { code: 'downstream_error', retryable: false },
    });
    // Up to a second less than the 90 s: the reset is whole epoch seconds.
    const primary = (codes['r403primary'] as { retryAfterMs: number }).retryAfterMs;
    expect(primary).toBeGreaterThan(88_000);
    expect(primary).toBeLessThanOrEqual(90_000);
    const r = await client.callTool({ name: 'p__r403primary', arguments: {} });
    expect((r.content as Array<{ text: string }>)[0]?.text).toMatch(/^P answered 403 Forbidden to GET \/r403primary \(its rate limit resets in (89|90) s\): /);
  });

  it('says which scope or app permission a refused token lacks, as GitHub names them, so the way forward is plain', async () => {
    const text = async (name: string) => ((await client.callTool({ name, arguments: {} })).content as Array<{ text: string }>)[0]?.text;
    expect(await text('p__r404scope')).toBe(
      'P answered 404 Not Found to GET /r404scope: {"message":"Not Found"} (the token was granted read:user, public_repo; this endpoint accepts repo: a linked account needs one added to the integration\'s oauth scopes and a new link)',
    );
    expect(await text('p__r403app')).toBe(
      'P answered 403 Forbidden to GET /r403app: {"message":"Resource not accessible by integration"} (this endpoint needs the app permission issues=write: grant it to the app, then have the account approve it)',
    );
    // A plain 404 says nothing more.
    expect(await text('p__r404')).toBe('P answered 404 Not Found to GET /r404: {"message":"Not Found"}');
  });

  it('names a Retry-After with a fraction in seconds, as a whole one', async () => {
    const r = await client.callTool({ name: 'p__r429frac', arguments: {} });
    expect((r.content as Array<{ text: string }>)[0]?.text).toBe(
      'P answered 429 Too Many Requests to GET /r429frac (retry after 2.0 s): {"errors":"Exceeded 2 calls per second"}',
    );
  });

  it("keeps an id past 2^53 digit for digit: the text as the provider's number, structuredContent as its digits", async () => {
    const r = await client.callTool({ name: 'p__msgs', arguments: {} });
    expect(r.isError).toBeFalsy();
    expect((r.content as Array<{ text: string }>)[0]?.text).toBe('{\n  "messages": [\n    {\n      "id": 1234567890123456789,\n      "n": 7\n    }\n  ]\n}');
    expect(r.structuredContent).toEqual({ messages: [{ id: '1234567890123456789', n: 7 }] });
  });

  it('names the next page in the types the input schema declares, and calling again with them is served', async () => {
    const first = await client.callTool({ name: 'p__list', arguments: {} });
    const next = first._meta?.['switchboard/nextPage'] as Record<string, unknown>;
    expect(next).toEqual({ page: 2, per_page: 1, cursor: '0042', draft: true, q: 'x' });
    const second = await client.callTool({ name: 'p__list', arguments: next });
    expect(second.isError).toBeFalsy();
    expect(second.content).toEqual([{ type: 'text', text: '[\n  {\n    "page": 2\n  }\n]' }]);
  });

  it('refuses an argument with a lone surrogate as invalid arguments naming it, in the path and in the query, sending nothing', async () => {
    seen.length = 0;
    const call = async (args: Record<string, unknown>) => argumentRefusal(await client.callTool({ name: 'p__item', arguments: args }));
    expect(await call({ id: 'a\uD800b' })).toContain('argument "id" holds a lone UTF-16 surrogate');
    expect(await call({ id: 'a', q: 'x\uDC00' })).toContain('argument "q" holds a lone UTF-16 surrogate');
    expect(seen).toEqual([]);
  });

  it('gives an image as an image block, other bytes as an embedded blob, and text in its declared charset', async () => {
    const [png, pdf, latin] = await Promise.all(['png', 'pdf', 'latin'].map((n) => client.callTool({ name: `p__${n}`, arguments: {} })));
    expect(png).toEqual({
      content: [
        { type: 'text', text: `P answered GET /png: ${PNG.length} bytes of image/png` },
        { type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' },
      ],
    });
    expect(pdf).toEqual({
      content: [
        { type: 'text', text: `P answered GET /pdf: ${PDF.length} bytes of application/pdf` },
        { type: 'resource', resource: { uri: `${api.origin}/api/pdf`, mimeType: 'application/pdf', blob: PDF.toString('base64') } },
      ],
    });
    expect(latin).toEqual({ content: [{ type: 'text', text: 'café crème' }] });
  });
});

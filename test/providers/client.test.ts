/**
 * The provider client on its own, against a local HTTP server: credential modes, the redirect
 * rules of RFC 9110 §15.4 inside the API base, the pacing hook, writes never resent, a long
 * Retry-After handed back, and SSE with an idle timeout.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createProviderClient, type ProviderTarget } from '../../src/providers/client.js';
import { apiKeyCredentials, noCredentials } from '../../src/providers/credentials.js';
import { sseEventBatches } from '../../src/providers/sse.js';

interface Hit {
  method: string;
  path: string;
  auth: string | undefined;
  apiKey: string | undefined;
  contentType: string | undefined;
  body: string;
}

const hits: Hit[] = [];
let server: Server;
let origin: string;
let flaky = 0;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const c of req) body += (c as Buffer).toString();
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  hits.push({
    method: req.method ?? '',
    path,
    auth: req.headers.authorization,
    apiKey: req.headers['x-api-key'] as string | undefined,
    contentType: req.headers['content-type'],
    body,
  });
  const to = (status: number, location: string): void => void res.writeHead(status, { location }).end();
  switch (path) {
    case '/v1/see-other':
      return to(303, '/v1/done');
    case '/v1/temporary':
      return to(307, '/v1/done');
    case '/v1/loop':
      return to(302, '/v1/loop');
    case '/v1/later':
      return void res.writeHead(429, { 'retry-after': '3600' }).end('{"error":"later"}');
    case '/v1/flaky':
      if (flaky-- > 0) return void req.socket.destroy();
      break;
    case '/v1/events':
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: progress\ndata: {"pct":50}\n\n');
      res.write(': keep-alive\n\n');
      res.write('id: 2\ndata: done\n\n');
      // Then silence: the idle timeout must close it.
      return;
    case '/v1/burst':
      // A burst of tokens in one write, an event split across two, then the end.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: a\n\ndata: b\n\ndata: c\n\ndata: d');
      setTimeout(() => res.end('\n\n'), 20);
      return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, path, body }));
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const paced: string[] = [];
const sleeps: number[] = [];
const clock = manualClock();
const client = createProviderClient({
  clock,
  sleep: async (ms) => void sleeps.push(ms),
  pacer: { acquire: async (key) => void paced.push(key) },
  limits: { timeoutMs: 5_000 },
});
const target = (extra: Partial<ProviderTarget> = {}): ProviderTarget => ({
  label: 'Local',
  apiBaseUrl: `${origin}/v1`,
  credentials: apiKeyCredentials({ header: 'X-Api-Key', value: 'k-123' }),
  paceKey: 'local:one',
  ...extra,
});
const since = (n: number) => hits.slice(n);

describe('the provider client', () => {
  it('sends an API key as the configured header, and nothing with no credentials', async () => {
    const n = hits.length;
    await (await client.bind(target())('/a')).text();
    await (await client.bind(target({ credentials: noCredentials }))('/b')).text();
    await (await client.bind(target({ credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Token ', value: 't-9' }) }))('/c')).text();
    expect(since(n).map((h) => [h.path, h.apiKey, h.auth])).toEqual([
      ['/v1/a', 'k-123', undefined],
      ['/v1/b', undefined, undefined],
      ['/v1/c', undefined, 'Token t-9'],
    ]);
  });

  it('turns a POST into a GET without its body after 303, and keeps method and body after 307', async () => {
    const n = hits.length;
    const f = client.bind(target());
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":1}' };
    expect(await (await f('/see-other', init)).json()).toEqual({ method: 'GET', path: '/v1/done', body: '' });
    expect(await (await f('/temporary', init)).json()).toEqual({ method: 'POST', path: '/v1/done', body: '{"x":1}' });
    expect(since(n).map((h) => [h.method, h.path, h.contentType, h.body, h.apiKey])).toEqual([
      ['POST', '/v1/see-other', 'application/json', '{"x":1}', 'k-123'],
      ['GET', '/v1/done', undefined, '', 'k-123'],
      ['POST', '/v1/temporary', 'application/json', '{"x":1}', 'k-123'],
      ['POST', '/v1/done', 'application/json', '{"x":1}', 'k-123'],
    ]);
  });

  it('stops a redirect loop after five hops', async () => {
    const n = hits.length;
    await expect(client.bind(target())('/loop')).rejects.toMatchObject({
      code: 'provider_redirect_refused',
      message: 'Local redirected more than 5 times; not followed further',
    });
    expect(since(n)).toHaveLength(6);
  });

  it('refuses a path outside the base before sending anything', async () => {
    const n = hits.length;
    await expect(client.bind(target())('../admin')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(client.bind(target())('http://127.0.0.2:9/v1/x')).rejects.toMatchObject({ code: 'forbidden' });
    expect(since(n)).toEqual([]);
  });

  it('hands back a 429 whose Retry-After is past the limit instead of waiting it out', async () => {
    sleeps.length = 0;
    const res = await client.bind(target())('/later');
    expect([res.status, await res.text(), sleeps]).toEqual([429, '{"error":"later"}', []]);
  });

  it('retries a dropped connection for a GET, paced per attempt, but never resends a POST', async () => {
    sleeps.length = 0;
    paced.length = 0;
    flaky = 1;
    const n = hits.length;
    expect((await client.bind(target())('/flaky')).status).toBe(200);
    expect([paced, sleeps]).toEqual([['local:one', 'local:one'], [250]]);
    flaky = 1;
    await expect(client.bind(target())('/flaky', { method: 'POST', body: 'x' })).rejects.toMatchObject({
      code: 'provider_unreachable',
      message: 'Local could not be reached',
    });
    expect(since(n).map((h) => h.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('with no retries left, hands back a retryable answer at once and names a dropped connection', async () => {
    sleeps.length = 0;
    const n = hits.length;
    const none = target({ limits: { retries: 0 } });
    const res = await client.bind(none)('/later');
    expect([res.status, await res.text()]).toEqual([429, '{"error":"later"}']);
    flaky = 1;
    await expect(client.bind(none)('/flaky')).rejects.toMatchObject({ code: 'provider_unreachable', message: 'Local could not be reached' });
    expect([since(n).map((h) => [h.method, h.path]), sleeps]).toEqual([
      [
        ['GET', '/v1/later'],
        ['GET', '/v1/flaky'],
      ],
      [],
    ]);
  });

  it('ends on the caller\u2019s cancel', async () => {
    const ctl = new AbortController();
    ctl.abort(new Error('the MCP request was cancelled'));
    await expect(client.bind(target({ signal: ctl.signal }))('/a')).rejects.toThrow('the MCP request was cancelled');
  });

  it('reads server-sent events and closes a stream that goes silent', async () => {
    const res = await client.open(target(), '/events');
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const batch of sseEventBatches(res, { label: 'Local', idleMs: 200 })) seen.push(...batch);
      })(),
    ).rejects.toMatchObject({ code: 'provider_timeout', message: 'Local sent nothing for 200 ms; the stream was closed' });
    expect(seen).toEqual([
      { event: 'progress', id: undefined, data: '{"pct":50}' },
      { event: undefined, id: '2', data: 'done' },
    ]);
  });

  it('hands over the events each chunk completes together, and an event split across chunks once it is whole', async () => {
    const res = await client.open(target(), '/burst');
    const batches: string[][] = [];
    for await (const batch of sseEventBatches(res, { label: 'Local', idleMs: 5_000 })) batches.push(batch.map((e) => e.data));
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/mcp/downstream/node-fetch.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/**
 * A server that answers every request with its body echoed as JSON, except that the second
 * request arriving on a connection finds the socket reset — what a client sees when the server
 * closed a kept-alive socket just as the client reused it.
 */
async function resettingServer(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const perSocket = new WeakMap<Socket, number>();
  server = createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (n === 2) {
        req.socket.resetAndDestroy();
        return;
      }
      seen.push(`${req.method} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/mcp`, seen };
}

describe('nodeFetch', () => {
  it('sends an idempotent request again once on a new connection when a reused keep-alive socket was reset', async () => {
    const { url, seen } = await resettingServer();
    const first = await nodeFetch(url);
    expect({ status: first.status, body: await first.json() }).toEqual({ status: 200, body: { echo: '' } });
    const second = await nodeFetch(url, { method: 'DELETE' });
    expect({ status: second.status, body: await second.json() }).toEqual({ status: 200, body: { echo: '' } });
    expect(seen).toEqual(['GET ', 'DELETE ']);
  });

  it('does not send a POST again when a reused socket was reset: the server may have read it (a tools/call would run twice)', async () => {
    const { url, seen } = await resettingServer();
    const post = (text: string) => nodeFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    const first = await post('one');
    expect({ status: first.status, body: await first.json() }).toEqual({ status: 200, body: { echo: 'one' } });
    await expect(post('two')).rejects.toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNRESET' } });
    expect(seen).toEqual(['POST one']);
  });

  it('does not send again when the first request on a connection fails', async () => {
    server = createServer((req) => req.socket.resetAndDestroy());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    await expect(nodeFetch(`${url}?fresh=${Date.now()}`, { method: 'POST', body: 'x' })).rejects.toMatchObject({
      message: 'fetch failed',
      cause: { code: 'ECONNRESET' },
    });
  });
});

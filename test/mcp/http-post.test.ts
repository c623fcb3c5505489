import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointOf, post, readText } from '../../src/mcp/downstream/http-post.js';

/**
 * The downstream tools/call POST: a server that read the call and then dropped the kept-alive
 * connection may be running the tool, so the call is not sent again on a new socket (it would run
 * twice); it fails as fetch fails.
 */
describe('the downstream tools/call POST', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it('reaches a server that drops the reused connection after reading it once, and fails', async () => {
    const seen: string[] = [];
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push(body);
        // The second request comes on the first one's kept-alive socket: read, then dropped.
        if (seen.length === 2) req.socket.destroy();
        else res.end('{}');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const to = endpointOf(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`));
    const headers = { 'content-type': 'application/json' };
    const first = await post(to, headers, Buffer.from('{"id":1}'), []);
    expect(await readText(first.body, [])).toBe('{}');
    const err = await post(to, headers, Buffer.from('{"id":2}'), []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(((err as TypeError).cause as NodeJS.ErrnoException).code).toMatch(/^(ECONNRESET|EPIPE)$/);
    expect(seen).toEqual(['{"id":1}', '{"id":2}']);
  });
});

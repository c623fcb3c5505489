import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

const MAX_BODY = 2048;
const PING = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'expect-continue', version: '1.0.0' } },
});

/**
 * Sends the headers of a POST /mcp with `Expect: 100-continue` and waits, as curl and other
 * clients do, for the hub's first answer before sending the body (only after a 100).
 * Returns the status lines the hub sent, up to its final one.
 */
function expectContinue(port: number, headers: Record<string, string>, body: string, declared = Buffer.byteLength(body), path = '/mcp'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    const head = Object.entries({
      host: `127.0.0.1:${port}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'content-length': String(declared),
      expect: '100-continue',
      connection: 'close',
      ...headers,
    })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.on('connect', () => socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`));
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (!sent && text.startsWith('HTTP/1.1 100')) {
        sent = true;
        socket.write(body);
      }
      // The first final status is the answer; what follows it (a stream) does not matter here.
      const lines = text.split('\r\n').filter((l) => l.startsWith('HTTP/1.1 '));
      if (lines.some((l) => !l.startsWith('HTTP/1.1 100'))) {
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on('close', () => resolve(text.split('\r\n').filter((l) => l.startsWith('HTTP/1.1 '))));
    socket.on('error', reject);
  });
}

describe('Expect: 100-continue', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub({ server: { maxBodyBytes: MAX_BODY } });
  });
  afterAll(async () => h.stop());

  it('answers a body declared over server.maxBodyBytes with 413 alone, without inviting it with 100 Continue', async () => {
    const lines = await expectContinue(h.port, { authorization: `Bearer ${h.token}` }, '', MAX_BODY + 1);
    expect(lines).toEqual(['HTTP/1.1 413 Payload Too Large']);
  });

  it('answers a request without a token with 401 alone', async () => {
    const lines = await expectContinue(h.port, {}, PING);
    expect(lines).toEqual(['HTTP/1.1 401 Unauthorized']);
  });

  it('sends 100 Continue for a body it reads, then answers it', async () => {
    const lines = await expectContinue(h.port, { authorization: `Bearer ${h.token}` }, PING);
    expect(lines).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
  });

  it('sends 100 Continue to the authorization server, whose endpoints read their bodies too', async () => {
    const client = JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/callback'], token_endpoint_auth_method: 'none' });
    const lines = await expectContinue(h.port, {}, client, Buffer.byteLength(client), '/register');
    expect(lines).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 201 Created']);
  });
});

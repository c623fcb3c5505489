import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { localIdentity } from '../../src/identity/identity.js';
import { silentLogger } from '../../src/observability/logger.js';

const MAX = 64 * 1024;

/**
 * The stdio face's wire as a client sees it byte for byte: what comes back for lines that are
 * not JSON, not JSON-RPC, or over maxMessageBytes, with the id where it can be read and null
 * where it cannot (JSON-RPC 2.0 §5).
 */
describe('stdio face wire: malformed and oversize input', () => {
  let hub: Hub;
  const input = new PassThrough();
  const output = new PassThrough();
  const received: Array<Record<string, unknown>> = [];
  let buffered = '';
  let waiters: Array<() => void> = [];

  async function next(): Promise<Record<string, unknown>> {
    while (received.length === 0) await new Promise<void>((r) => waiters.push(r));
    return received.shift()!;
  }

  beforeAll(async () => {
    hub = new Hub({ config: configSchema.parse({ maxMessageBytes: MAX }), log: silentLogger(), dataDir: ':memory:' });
    output.on('data', (c: Buffer) => {
      buffered += c.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        received.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
    hub.serveStdio(localIdentity(), { input, output });
    hub.start();
    input.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`,
    );
    expect(await next()).toMatchObject({ id: 1, result: { protocolVersion: '2025-11-25' } });
    input.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  });

  afterAll(async () => {
    await hub.stop();
  });

  it('answers a line that is not JSON with -32700 and id null', async () => {
    input.write('{"jsonrpc":"2.0","id":2,"method":\n');
    expect(await next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error: the line is not valid JSON', data: { code: 'parse_error' } },
    });
  });

  it('answers JSON that is not a JSON-RPC message with -32600 and its id', async () => {
    input.write('{"id":3,"hello":"world"}\n');
    expect(await next()).toEqual({
      jsonrpc: '2.0',
      id: 3,
      error: { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 message', data: { code: 'bad_request' } },
    });
  });

  it('answers an oversize request with -32600, with its id when written first or last', async () => {
    const pad = 'p'.repeat(MAX);
    input.write(`{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_pad":"${pad}"}}\n`);
    expect(await next()).toEqual({
      jsonrpc: '2.0',
      id: 4,
      error: { code: -32600, message: 'Invalid Request: the message (64.1 KiB) exceeded maxMessageBytes (64 KiB)', data: { code: 'body_too_large' } },
    });
    input.write(`{"method":"tools/list","params":{"_pad":"${pad}"},"jsonrpc":"2.0","id":"five"}\n`);
    expect(await next()).toMatchObject({ id: 'five', error: { code: -32600 } });
  });

  it('answers an oversize line without a readable id with id null, in pieces, and keeps serving', async () => {
    input.write('[');
    for (let i = 0; i < 8; i++) input.write('x'.repeat(MAX / 2));
    input.write(']\n');
    expect(await next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'Invalid Request: the message (256 KiB) exceeded maxMessageBytes (64 KiB)', data: { code: 'body_too_large' } },
    });
    input.write(`${JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' })}\n`);
    expect(await next()).toEqual({ jsonrpc: '2.0', id: 6, result: {} });
  });
});

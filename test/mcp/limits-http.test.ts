import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT, eventually, startHub, type RunningHub } from '../helpers/hub.js';

const LIMITS_SERVER = join(ROOT, 'dist/test/fixtures/limits-server.js');
const MiB = 1024 * 1024;
const textContent = z.array(z.object({ type: z.literal('text'), text: z.string() }));

describe('large results over the HTTP face', () => {
  let h: RunningHub;
  let client: Client;

  beforeAll(async () => {
    h = await startHub({ maxMessageBytes: 16 * MiB, mcpServers: { lim: { command: process.execPath, args: [LIMITS_SERVER] } } });
    client = new Client({ name: 'limits-http', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
    await eventually(() => h.hub.catalog.source('lim')?.status().state === 'ready', 20_000, 50);
  });

  afterAll(async () => {
    await client?.close();
    await h?.stop();
  });

  it('passes a 12 MiB result from a stdio downstream', async () => {
    const r = await client.callTool({ name: 'lim__big', arguments: { bytes: 12 * MiB } }, { timeout: 60_000 });
    expect(r.isError).toBeFalsy();
    const [block] = textContent.parse(r.content);
    expect(block?.text.length).toBe(12 * MiB);
    expect(block?.text).toBe('x'.repeat(12 * MiB));
  });

  it('fails a result over maxMessageBytes at once with an isError result that names the server and says why', async () => {
    const started = performance.now();
    const r = await client.callTool({ name: 'lim__big', arguments: { bytes: 17 * MiB } }, { timeout: 60_000 });
    expect(r.isError).toBe(true);
    expect(textContent.parse(r.content)[0]?.text).toBe('lim: tool big: the result was too large: 17 MiB exceeds maxMessageBytes (16 MiB)');
    expect(r._meta?.['switchboard/error']).toEqual({ code: 'downstream_error', retryable: false });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a call made right after the too-large result waits for the restarted server, not the ended one', async () => {
    const pidOf = async () => textContent.parse((await client.callTool({ name: 'lim__pid', arguments: {} })).content)[0]!.text;
    const before = await pidOf();
    expect(textContent.parse((await client.callTool({ name: 'lim__big', arguments: { bytes: 17 * MiB } }, { timeout: 60_000 })).content)[0]?.text).toMatch(
      /too large/,
    );
    // At once, as a caller does: answered by the new process.
    const after = await pidOf();
    expect(after).not.toBe(before);
  });
});

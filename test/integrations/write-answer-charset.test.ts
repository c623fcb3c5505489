/**
 * A write's answer (sent by the outbox) reaches its caller as a read's does: text decoded in the
 * charset its Content-Type declares, and bytes that are no text named by size and type rather than
 * decoded as UTF-8 into replacement characters. Through a real MCP client against a provider on loopback.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, type LocalApi } from '../helpers/local-api.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xd8]);

const write = (path: string) => ({ description: path, method: 'POST', path, input: { type: 'object', properties: { note: { type: 'string' } } } });

describe("a write's answer in another charset than UTF-8, or in bytes", () => {
  let api: LocalApi;
  let hub: RunningHub;
  let client: Client;

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/api/latin')
        return void res.writeHead(201, { 'content-type': 'text/plain; charset=ISO-8859-1' }).end(Buffer.from('reçu: café crème', 'latin1'));
      if (path === '/api/latin-refused')
        return void res.writeHead(422, { 'content-type': 'text/plain; charset=ISO-8859-1' }).end(Buffer.from('déjà là', 'latin1'));
      if (path === '/api/png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
      res.writeHead(404).end();
    });
    hub = await startHub({
      integrations: { p: keyedIntegration(api, { latin: write('/latin'), latin_refused: write('/latin-refused'), png: write('/png') }) },
    });
    client = await bearerClient(hub.url, hub.token, 'write-answer-charset-test');
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await api?.close();
  });

  it('shows Latin-1 text as written, on success and on refusal', async () => {
    const ok = await client.callTool({ name: 'p__latin', arguments: { note: 'x' } });
    expect(ok).toMatchObject({ content: [{ type: 'text', text: 'reçu: café crème' }] });
    expect(ok.isError).toBeFalsy();
    const refused = await client.callTool({ name: 'p__latin_refused', arguments: { note: 'x' } });
    expect(refused.isError).toBe(true);
    expect((refused.content as Array<{ text: string }>)[0]?.text).toBe('P answered 422 Unprocessable Entity to POST /latin-refused: déjà là');
  });

  it('names bytes by size and type, with no replacement characters', async () => {
    const r = await client.callTool({ name: 'p__png', arguments: {} });
    const text = (r.content as Array<{ text: string }>)[0]?.text ?? '';
    expect(text).not.toContain('\uFFFD');
    expect(text).toBe(`(${PNG.length} bytes of image/png)`);
  });
});

import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';

/** What Streamable HTTP clients send with every POST. */
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

interface JsonRpcErrorBody {
  jsonrpc: string;
  error: { code: number; message: string };
  id: unknown;
}

function isJsonRpcError(v: unknown): v is JsonRpcErrorBody {
  if (typeof v !== 'object' || v === null || !('jsonrpc' in v) || !('error' in v)) return false;
  const e = v.error;
  return v.jsonrpc === '2.0' && typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'number';
}

async function connectClient(url: string, token: string, mode: 'auto' | 'legacy' = 'auto'): Promise<Client> {
  const client = new Client({ name: 'bad-input', version: '1' }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

/** Bytes written as they are on a fresh connection, and everything the hub sends back before it closes it. */
function rawBytes(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

/** A raw request through node:http, which, unlike fetch, lets a test choose the Host header. */
describe('HTTP face under bad input', () => {
  let h: RunningHub;
  let auth: Record<string, string>;
  const MAX_BODY = 2048;

  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio() }, server: { maxBodyBytes: MAX_BODY } });
    auth = { authorization: `Bearer ${h.token}` };
  });
  afterAll(async () => h.stop());

  const origin = () => new URL(h.url).origin;
  const post = (body: string, headers: Record<string, string> = {}) => fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, ...auth, ...headers }, body });
  /** A POST without Content-Length (Transfer-Encoding: chunked), through node:http. */
  const postChunked = (body: string) =>
    rawRequest({
      port: h.port,
      path: '/mcp',
      method: 'POST',
      headers: { ...MCP_HEADERS, ...auth, host: `127.0.0.1:${h.port}`, 'transfer-encoding': 'chunked' },
      body,
    });

  it('answers a request without a token with 401 pointing at the resource metadata', async () => {
    const res = await fetch(h.url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    // No credentials at all: no error code (RFC 6750 §3.1), and the scope to ask for.
    expect(challenge).not.toContain('error=');
    expect(challenge).toContain('scope="mcp"');
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${origin()}/.well-known/oauth-protected-resource/mcp`);

    // RFC 9728 metadata at the advertised URL and at the root location, both naming /mcp.
    for (const url of [metadataUrl!, `${origin()}/.well-known/oauth-protected-resource`]) {
      const meta = await fetch(url);
      expect(meta.status, url).toBe(200);
      expect(meta.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await meta.json()).toMatchObject({ resource: h.url, bearer_methods_supported: ['header'] });
    }
  });

  it('answers an unknown token with 401', async () => {
    for (const token of [`sbt_${'x'.repeat(43)}`, 'not-even-a-hub-token', '']) {
      const res = await post(INITIALIZE, { authorization: `Bearer ${token}` });
      expect(res.status, token).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('resource_metadata=');
    }
    const basic = await post(INITIALIZE, { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` });
    expect(basic.status).toBe(401);
  });

  it('answers a revoked token with 401, also on a session it opened before', async () => {
    const { token, record } = await h.hub.tokens.create({ user: 'bob' });
    const client = await connectClient(h.url, token, 'legacy');
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);

    expect(await h.hub.tokens.revoke(record.id)).toBe(true);
    const res = await post(INITIALIZE, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // The open session does not outlive its token: every request is authenticated again.
    await expect(client.listTools()).rejects.toThrow(/invalid_token/);
    await client.close();
  });

  it('refuses a foreign Origin with 403, even with a valid token', async () => {
    const res = await post(INITIALIZE, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    // On /mcp the refusal is a JSON-RPC error object (docs/errors.md: origin_rejected is -32000 there).
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Origin "http://evil.example" is not allowed', data: { code: 'origin_rejected' } },
    });
    // A same-host page on another port is another origin too.
    const otherPort = await post(INITIALIZE, { origin: `http://127.0.0.1:${h.port + 1}` });
    expect(otherPort.status).toBe(403);
    // The hub's own origin passes.
    const own = await post(INITIALIZE, { origin: origin() });
    expect(own.status).toBe(200);
    await own.body?.cancel();
  });

  it('refuses a foreign Host header with 403 on every route (DNS rebinding)', async () => {
    for (const path of ['/mcp', '/healthz', '/.well-known/oauth-protected-resource']) {
      const res = await rawRequest({
        port: h.port,
        path,
        method: path === '/mcp' ? 'POST' : 'GET',
        headers: { ...MCP_HEADERS, ...auth, host: `rebind.example:${h.port}` },
        body: path === '/mcp' ? INITIALIZE : undefined,
      });
      expect(res.status, path).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject(path === '/mcp' ? { jsonrpc: '2.0', error: { code: -32000 } } : { error: { code: 'host_rejected' } });
    }
    // The same request with the hub's own Host is served.
    const ok = await rawRequest({ port: h.port, path: '/healthz', method: 'GET', headers: { host: `localhost:${h.port}` } });
    expect(ok.status).toBe(200);
  });

  it('refuses a body over server.maxBodyBytes with 413', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(MAX_BODY) } });
    const res = await post(big);
    expect(res.status).toBe(413);
    const body: unknown = await res.json();
    expect(isJsonRpcError(body) && body.error.code).toBe(-32600);

    // Without Content-Length (chunked) the limit is enforced while reading.
    expect((await postChunked(big)).status).toBe(413);
  });

  it('marks every answer nosniff: JSON routes, /mcp (its refusals too), webhooks', async () => {
    const answers = [
      await fetch(`${origin()}/healthz`),
      await post(INITIALIZE),
      await post(INITIALIZE, { authorization: 'Bearer nope' }),
      await fetch(`${origin()}/webhooks/nothing-here`, { method: 'POST', body: '{}' }),
    ];
    for (const res of answers) {
      await res.body?.cancel();
      expect([res.url, res.status, res.headers.get('x-content-type-options')]).toEqual([res.url, res.status, 'nosniff']);
    }
  });

  it('refuses a form body declared over its limit at once, before reading any of it, on every form route', async () => {
    // No body follows the headers: a route that waited for it would answer only at the body deadline.
    for (const path of ['/sign-in/some-interaction/login', '/connect/revoke', '/oauth/sandbox/start']) {
      const raw = await rawBytes(
        h.port,
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999\r\n\r\n`,
      );
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      expect([path, head.split(' ')[1]]).toEqual([path, '413']);
      expect(head.toLowerCase()).toContain('connection: close');
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'body_too_large' } });
    }
  });

  it('answers malformed JSON with a JSON-RPC parse error (-32700)', async () => {
    for (const body of ['{"jsonrpc": "2.0", "method": ', '{not json}', '\u0000\u0001']) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(await res.json()).toEqual({ jsonrpc: '2.0', error: { code: -32700, message: expect.any(String), data: { code: 'parse_error' } }, id: null });
    }
  });

  it('refuses in JSON-RPC shape on /mcp/ and /MCP too, which express routes to /mcp', async () => {
    for (const path of ['/mcp/', '/MCP']) {
      const url = `${origin()}${path}`;
      const bad = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...auth }, body: '{bad' });
      expect([path, bad.status, await bad.json()]).toEqual([
        path,
        400,
        { jsonrpc: '2.0', error: { code: -32700, message: expect.any(String), data: { code: 'parse_error' } }, id: null },
      ]);
      const foreign = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...auth, origin: 'http://evil.example' }, body: INITIALIZE });
      expect([path, foreign.status, await foreign.json()]).toEqual([
        path,
        403,
        { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Origin "http://evil.example" is not allowed', data: { code: 'origin_rejected' } } },
      ]);
    }
  });

  it('answers JSON that is not a JSON-RPC message with an Invalid Request error (-32600)', async () => {
    // Both protocol eras: the 2026 header routes the body to another handler.
    const eras: Record<string, string>[] = [{}, { 'mcp-protocol-version': '2026-07-28' }];
    for (const body of ['{"hello":"world"}', '[1,2]', '"tools/list"', 'null', '42', '{"jsonrpc":"2.0","method":5,"id":1}']) {
      for (const era of eras) {
        const res = await post(body, era);
        expect(res.status, `${body} ${JSON.stringify(era)}`).toBe(400);
        const parsed: unknown = await res.json();
        expect(isJsonRpcError(parsed), body).toBe(true);
        expect(isJsonRpcError(parsed) && parsed.error.code, body).toBe(-32600);
        // The hub's code rides in data, whichever layer refused it (docs/errors.md).
        expect(parsed, body).toMatchObject({ error: { data: { code: 'bad_request' } } });
      }
    }
    // An empty batch, and an Accept header that lacks text/event-stream, are refused by the SDK's transport: coded too.
    const batch = await post('[]', { 'mcp-protocol-version': '2026-07-28' });
    expect([batch.status, await batch.json()]).toEqual([
      400,
      expect.objectContaining({ error: expect.objectContaining({ code: -32600, data: { code: 'bad_request' } }) }),
    ]);
    const accept = await post(INITIALIZE, { accept: 'application/json' });
    expect(accept.status).toBe(406);
    expect(await accept.json()).toMatchObject({ error: { data: { code: 'bad_request' } } });
  });

  it('refuses a POST that is not application/json with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await post(INITIALIZE, { 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
    // Parameters after the media type are fine.
    const withCharset = await post(INITIALIZE, { 'content-type': 'application/json; charset=utf-8' });
    expect(withCharset.status).toBe(200);
    await withCharset.body?.cancel();
  });

  it('reads a POST body as body-parser does, on the plain path and off it (BOM, gzip, chunked, charsets)', async () => {
    // A UTF-8 byte-order mark is dropped, as body-parser's decoder does.
    const bom = await post(`\uFEFF${INITIALIZE}`);
    expect(bom.status).toBe(200);
    await bom.body?.cancel();
    // A compressed body (body-parser inflates it) and a chunked one are read too.
    const gz = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, ...auth, 'content-encoding': 'gzip' }, body: gzipSync(INITIALIZE) });
    expect(gz.status).toBe(200);
    await gz.body?.cancel();
    expect((await postChunked(INITIALIZE)).status).toBe(200);
    // JSON is Unicode (RFC 7159 §8.1): a charset not spelled utf-… gets 415, as body-parser answers.
    for (const charset of ['latin1', 'utf8']) {
      const res = await post(INITIALIZE, { 'content-type': `application/json; charset=${charset}` });
      expect(res.status, charset).toBe(415);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
    // An empty body is read as {} (body-parser's special case), which is no JSON-RPC message.
    const empty = await post('');
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
  });

  for (const mode of ['auto', 'legacy'] as const) {
    it(`answers an unknown tool with JSON-RPC -32602 over a real client (${mode})`, async () => {
      const client = await connectClient(h.url, h.token, mode);
      const call = client.callTool({ name: 'fx__no_such_tool', arguments: {} });
      await expect(call).rejects.toBeInstanceOf(ProtocolError);
      await expect(call).rejects.toMatchObject({ code: -32602, data: { code: 'tool_not_found' } });
      await expect(call).rejects.toThrow(/fx__no_such_tool/);
      await client.close();
    });
  }

  it('answers what Node cannot parse with a JSON body and a stable code, and closes the connection', async () => {
    const answer = (raw: string) => {
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      return { status: head.split(' ')[1], head: head.toLowerCase(), body: JSON.parse(body) as unknown };
    };
    const garbage = answer(await rawBytes(h.port, 'NOT AN HTTP REQUEST\r\n\r\n'));
    expect(garbage.status).toBe('400');
    expect(garbage.head).toContain('content-type: application/json');
    expect(garbage.head).toContain('connection: close');
    expect(garbage.body).toEqual({ error: { code: 'bad_request', message: expect.stringContaining('not valid HTTP/1.1') } });
    const huge = answer(await rawBytes(h.port, `GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:${h.port}\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(huge.status).toBe('431');
    expect(huge.body).toEqual({ error: { code: 'headers_too_large', message: expect.stringContaining('headers') } });
  });

  it('is still healthy and serving after all of the above', async () => {
    const health = await fetch(`${origin()}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', hub: { linkKeyId: h.hub.integrations.links.keyId(), dataDir: h.dataDir } });
    const client = await connectClient(h.url, h.token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['fx__echo', 'fx__add']));
    const result = await client.callTool({ name: 'fx__echo', arguments: { text: 'still here' } });
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'still here' }]);
    await client.close();
  });
});

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusalLog } from '../../src/http/refusal-log.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'framing', version: '1' } },
});
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const APP_ORIGIN = 'http://app.example:5173';

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Writes `head` (and `body`) on a fresh connection as they are; resolves with the first response, once its body is in. */
function raw(port: number, head: string, body = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head + body));
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = text.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? Number.NaN);
      const rest = text.slice(end + 4);
      // A streamed answer (no length) is read up to its first event, which is all these tests look at.
      if (Number.isNaN(length) ? !rest.includes('\n\n') : Buffer.byteLength(rest) < length) return;
      socket.destroy();
      resolve({ status: Number(text.slice(9, 12)), headers, body: rest });
    });
    socket.on('error', reject);
  });
}

const request = (lines: readonly string[], body = '') => `${[...lines, `content-length: ${Buffer.byteLength(body)}`].join('\r\n')}\r\n\r\n${body}`;

describe('the request line and its framing headers', () => {
  let h: RunningHub;
  const lines: string[] = [];
  const host = () => `127.0.0.1:${h.port}`;

  beforeAll(async () => {
    h = await startHub({ server: { allowedOrigins: [APP_ORIGIN] } }, { log: capturedLogger(lines, 'info') });
  });
  afterAll(async () => h.stop());

  it('serves a request whose target is an absolute URL (a client with the hub as its proxy) by that URL’s authority, not the Host header', async () => {
    const mcp = ['content-type: application/json', 'accept: application/json, text/event-stream', `authorization: Bearer ${h.token}`];
    const own = await raw(h.port, request([`POST http://${host()}/mcp HTTP/1.1`, `host: ${host()}`, ...mcp], INITIALIZE));
    expect(own.status).toBe(200);
    expect(own.body).toContain('"protocolVersion":"2025-11-25"');
    // The Host header names the hub, the target another site: the target is what counts (RFC 9112 §3.2.2).
    const foreign = await raw(h.port, request([`POST http://evil.example/mcp HTTP/1.1`, `host: ${host()}`, ...mcp], INITIALIZE));
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: { code: -32000, message: 'Host header "evil.example" is not allowed' } });
  });

  it('refuses a second Host or Authorization header, and a request without Host, with 400 in the hub’s shape', async () => {
    const twoTokens = await raw(
      h.port,
      request(
        ['POST /mcp HTTP/1.1', `host: ${host()}`, 'content-type: application/json', `authorization: Bearer ${h.token}`, 'authorization: Bearer sbt_other'],
        INITIALIZE,
      ),
    );
    expect(twoTokens.status).toBe(400);
    expect(JSON.parse(twoTokens.body)).toMatchObject({ error: { code: -32600, message: 'the request has 2 Authorization headers; send one' } });
    const twoHosts = await raw(h.port, request(['GET /healthz HTTP/1.1', `host: ${host()}`, 'host: evil.example']));
    expect(twoHosts.status).toBe(400);
    expect(JSON.parse(twoHosts.body)).toEqual({ error: { code: 'bad_request', message: 'the request has 2 Host headers; HTTP/1.1 allows one' } });
    const noHost = await raw(h.port, 'GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(noHost.status).toBe(400);
    expect(JSON.parse(noHost.body)).toEqual({ error: { code: 'bad_request', message: 'the request has no Host header; HTTP/1.1 requires one' } });
  });

  it('answers a load balancer’s HTTP/1.0 health check without Host (HAProxy’s option httpchk), and nothing else without one', async () => {
    for (const line of ['GET /readyz HTTP/1.0', 'GET /healthz HTTP/1.0']) {
      const check = await raw(h.port, `${line}\r\n\r\n`);
      expect([line, check.status]).toEqual([line, 200]);
    }
    for (const line of ['GET /mcp HTTP/1.0', 'GET /connect HTTP/1.0', 'POST /readyz HTTP/1.0']) {
      const other = await raw(h.port, `${line}\r\n\r\n`);
      expect([line, other.status]).toEqual([line, 400]);
    }
  });

  it('refuses a body declared over the limit at once, without waiting for it', async () => {
    // Headers announce 50 MB and only a few bytes follow: before, the hub waited for the rest (408 after 30 s).
    const answer = await raw(
      h.port,
      [
        'POST /mcp HTTP/1.1',
        `host: ${host()}`,
        'content-type: application/json',
        `authorization: Bearer ${h.token}`,
        'content-length: 50000000',
        '',
        '{"jsonrpc"',
      ].join('\r\n'),
    );
    expect(answer.status).toBe(413);
    expect(answer.headers).toMatch(/connection: close/i);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { message: 'Request body too large' } });
  });

  it('answers a body that is not UTF-8 with a parse error (-32700), never a call with its text changed', async () => {
    const body = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ]);
    for (const chunked of [false, true]) {
      const res = await fetch(h.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${h.token}` },
        // A stream has no length: body-parser reads it, off the plain path.
        body: chunked ? new Blob([body]).stream() : body,
        ...(chunked ? { duplex: 'half' } : {}),
      } as RequestInit);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: -32700, message: 'Parse error: the body is not valid UTF-8' } });
    }
  });

  it('says which capability of an initialize is malformed (-32602), and takes a token after more than one space', async () => {
    const bad = INITIALIZE.replace('"capabilities":{}', '"capabilities":{"roots":null}');
    const res = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${h.token}` }, body: bad });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32602, message: expect.stringContaining('params.capabilities.roots') } });
    // RFC 6750 §2.1: "Bearer" 1*SP token.
    const spaced = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer   ${h.token}` }, body: INITIALIZE });
    expect(spaced.status).toBe(200);
    await spaced.body?.cancel();
  });

  it('lets a browser client on an allowed origin use /mcp: a preflight before the token, readable answers and challenge', async () => {
    const preflight = await fetch(h.url, {
      method: 'OPTIONS',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type, mcp-protocol-version');
    expect(preflight.headers.get('vary')).toBe('Origin');

    const init = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, origin: APP_ORIGIN, authorization: `Bearer ${h.token}` }, body: INITIALIZE });
    expect(init.status).toBe(200);
    expect(init.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(init.headers.get('access-control-expose-headers')).toContain('Mcp-Session-Id');
    expect(init.headers.get('mcp-session-id')).toBeTruthy();
    await init.body?.cancel();

    // Without a token: the 401's challenge, which starts the browser's OAuth sign-in, is readable.
    const challenge = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, origin: APP_ORIGIN }, body: INITIALIZE });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(challenge.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    const metadata = await fetch(`${new URL(h.url).origin}/.well-known/oauth-protected-resource/mcp`, { headers: { origin: APP_ORIGIN } });
    expect(metadata.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(metadata.headers.get('vary')).toBe('Host, Origin');

    // No Origin (not a browser): no CORS headers. Another origin: refused before any of this.
    const plain = await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${h.token}` }, body: INITIALIZE });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    await plain.body?.cancel();
    const other = await fetch(h.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs each refusal at its code’s level, without the token', async () => {
    await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: 'Bearer sbt_not-a-real-token' }, body: INITIALIZE });
    await fetch(h.url, { method: 'POST', headers: { ...MCP_HEADERS, origin: 'https://evil.example' }, body: INITIALIZE });
    const refused = () =>
      lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string })
        .filter((l) => l.msg === 'request refused')
        .map((l) => [l.code, l.level]);
    await expect.poll(refused).toEqual(
      expect.arrayContaining([
        ['unauthorized', 30],
        ['origin_rejected', 40],
        ['host_rejected', 40],
        ['bad_request', 30],
      ]),
    );
    expect(lines.join('')).not.toContain('sbt_not-a-real-token');
    expect(lines.join('')).not.toContain(h.token);
  });
});

describe('the refusal log under a flood', () => {
  it('logs 20 refusals of a code a minute, then says how many more there were', () => {
    const lines: string[] = [];
    let now = 0;
    const log = refusalLog(capturedLogger(lines, 'info'), () => now);
    for (let i = 0; i < 25; i++) log('host_rejected', { host: `h${i}` });
    log('unauthorized', { why: 'no token' });
    const parsed = () => lines.map((l) => JSON.parse(l) as { code: string; msg: string; suppressed?: number });
    expect(parsed().filter((l) => l.code === 'host_rejected')).toHaveLength(20);
    expect(parsed().filter((l) => l.code === 'unauthorized')).toHaveLength(1);
    now = 60_000;
    log('host_rejected', { host: 'later' });
    expect(parsed().slice(-2)).toEqual([
      expect.objectContaining({ code: 'host_rejected', suppressed: 5, msg: 'more requests were refused with this code in the last minute' }),
      expect.objectContaining({ code: 'host_rejected', host: 'later', msg: 'request refused' }),
    ]);
  });
});

import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * Connection limits through real sockets. These bound bytes on the wire, so they run on real
 * time: the body timeout is set to 1 s and every test stays within a few seconds.
 */
interface SlowResult {
  status: number | null;
  body: string;
  /** Milliseconds from the headers being sent to the server closing the connection. */
  closedAfterMs: number;
}

/** Sends a request's headers at once and then its body one byte a second, until the server closes. */
function slowBody(port: number, path: string, headers: Record<string, string> = {}): { socket: Socket; result: Promise<SlowResult> } {
  const socket = connect(port, '127.0.0.1');
  const all = { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '1000', ...headers };
  const lines = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
  let started = 0;
  let data = '';
  const drip = setInterval(() => socket.write('a'), 1_000);
  socket.on('connect', () => {
    started = performance.now();
    socket.write(`${lines.join('\r\n')}\r\n\r\na`);
  });
  socket.on('data', (c: Buffer) => (data += c.toString('utf8')));
  const result = new Promise<SlowResult>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(drip);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1];
      resolve({
        status: status === undefined ? null : Number(status),
        body: data.slice(data.indexOf('\r\n\r\n') + 4),
        closedAfterMs: performance.now() - started,
      });
    });
  });
  return { socket, result };
}

async function timedGet(url: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

describe('HTTP connection limits', () => {
  let h: RunningHub | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('a lone slow body gets 408 request_timeout after bodyTimeoutMs and its connection is closed', { timeout: 15_000 }, async () => {
    h = await startHub({ server: { limits: { bodyTimeoutMs: 1_000 } } });
    // A route that reads its body without a hub token: the /connect forms.
    const r = await slowBody(h.port, '/connect/logout').result;
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toEqual({ error: { code: 'request_timeout', message: 'the request body did not arrive within 1000 ms' } });
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(r.closedAfterMs).toBeLessThan(3_000);
  });

  it('300 slow-body clients without a token: /healthz keeps answering, /mcp refuses them at once, the rest time out', { timeout: 30_000 }, async () => {
    // 3 s rather than 1: /healthz must be seen answering while the slow bodies still hold their sockets.
    h = await startHub({ server: { limits: { bodyTimeoutMs: 3_000 } } });
    const port = h.port;
    const mcp = Array.from({ length: 150 }, () =>
      slowBody(port, '/mcp', { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }),
    );
    const forms = Array.from({ length: 150 }, () => slowBody(port, '/connect/logout'));
    // All 300 are connected and have sent their headers before /healthz is asked.
    await new Promise((r) => setTimeout(r, 300));
    let formsClosed = 0;
    for (const c of forms) void c.result.then(() => formsClosed++);
    const healthz = await Promise.all([0, 1, 2, 3, 4].map(() => timedGet(`http://127.0.0.1:${port}/healthz`)));
    expect(healthz.map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);
    expect(formsClosed).toBe(0);

    const mcpResults = await Promise.all(mcp.map((c) => c.result));
    // The token is checked on the headers: 401 and the connection closed without reading the body.
    expect(new Set(mcpResults.map((r) => r.status))).toEqual(new Set([401]));
    expect(Math.max(...mcpResults.map((r) => r.closedAfterMs))).toBeLessThan(3_000);
    const formResults = await Promise.all(forms.map((c) => c.result));
    expect(new Set(formResults.map((r) => r.status))).toEqual(new Set([408]));
    expect(Math.min(...formResults.map((r) => r.closedAfterMs))).toBeGreaterThanOrEqual(3_000);
    expect(Math.max(...formResults.map((r) => r.closedAfterMs))).toBeLessThan(6_000);
    expect((await timedGet(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('an SSE stream outlives bodyTimeoutMs: only the bytes a client sends are timed', { timeout: 15_000 }, async () => {
    h = await startHub({ server: { limits: { bodyTimeoutMs: 500 } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${h.token}` };
    const init = await fetch(h.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'sse', version: '1' } },
      }),
    });
    expect(init.status).toBe(200);
    await init.text();
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': '2025-11-25' };
    expect(
      (
        await fetch(h.url, {
          method: 'POST',
          headers: { ...headers, ...session },
          body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        })
      ).status,
    ).toBe(202);
    const stream = await fetch(h.url, { headers: { accept: 'text/event-stream', authorization: headers.authorization, ...session } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })();
    const outcome = await Promise.race([ended, new Promise((r) => setTimeout(() => r('open'), 1_500))]);
    expect(outcome).toBe('open');
    await reader.cancel();
  });

  it('a request whose headers do not finish within headersTimeoutMs gets 408 from Node', { timeout: 15_000 }, async () => {
    h = await startHub({ server: { limits: { headersTimeoutMs: 500 } } });
    const socket = connect(h.port, '127.0.0.1');
    const t0 = performance.now();
    let data = '';
    socket.on('connect', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${h!.port}\r\n`));
    socket.on('data', (c: Buffer) => (data += c.toString('utf8')));
    socket.on('error', () => {});
    await new Promise((r) => socket.on('close', r));
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('past maxConnections new connections are closed on arrival, and served again once some close', { timeout: 15_000 }, async () => {
    h = await startHub({ server: { limits: { maxConnections: 10, headersTimeoutMs: 60_000 } } });
    const port = h.port;
    const held: Socket[] = [];
    for (let i = 0; i < 10; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.on('connect', r));
      s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3_000) })).rejects.toThrow();
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await timedGet(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

/**
 * The agents' fetch (src/providers/node-fetch.ts, as the agents use it) against a real server on loopback: what fetch does that
 * the provider client relies on (default headers, a 3xx returned as it is, a coded body decoded, a
 * cancel ending the request or the body with its reason, a refused connection as `fetch failed`),
 * with one kept-alive connection for sequential calls; anything else goes to the fallback fetch.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { capBody } from '../../src/providers/body-limit.js';
import { bufferedBytesLeft, bufferedResponse, createNodeFetch, type NodeFetchOptions } from '../../src/providers/node-fetch.js';
import { sseEventBatches } from '../../src/providers/sse.js';
import { takeNodeBody } from '../../src/providers/streamed-response.js';
import { eventually } from '../helpers/hub.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handle: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handle(req, res, s);
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, connections: () => connections };
}

/** As src/agents/wire.ts builds it: the provider client follows redirects itself. */
const agentFetch = (o: NodeFetchOptions = {}) => createNodeFetch({ redirects: 'manual', ...o });

const post = (body: string, extra: RequestInit = {}): RequestInit => ({ method: 'POST', body, redirect: 'manual', ...extra });

describe('the agents fetch', () => {
  it('sends what fetch sends, answers a Response, and reuses one connection for sequential calls', async () => {
    const s = await serve((_req, res, seen) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen': seen.body.length.toString() });
      res.end(JSON.stringify({ echo: seen.body }));
    });
    const f = agentFetch();
    for (const n of [1, 2, 3]) {
      const res = await f(new URL(`${s.url}/tasks?n=${n}`), post(`ping ${n}`, { headers: { authorization: 'Bearer k' } }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-seen')).toBe('6');
      expect(await res.json()).toEqual({ echo: `ping ${n}` });
    }
    expect(s.seen[0]).toMatchObject({
      method: 'POST',
      url: '/tasks?n=1',
      body: 'ping 1',
      headers: {
        authorization: 'Bearer k',
        'content-type': 'text/plain;charset=UTF-8',
        'content-length': '6',
        accept: '*/*',
        'accept-encoding': 'gzip, deflate',
      },
    });
    expect(s.connections()).toBe(1);
  });

  it('returns a redirect as it is (the provider client follows it itself), and a 204 with no body', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/elsewhere' }).end('see /elsewhere');
      else res.writeHead(204).end();
    });
    const f = agentFetch();
    const moved = await f(`${s.url}/moved`, post('{}'));
    expect([moved.status, moved.headers.get('location'), await moved.text()]).toEqual([302, '/elsewhere', 'see /elsewhere']);
    const empty = await f(`${s.url}/empty`, post('{}'));
    expect([empty.status, empty.body]).toEqual([204, null]);
    expect(s.seen.map((x) => x.url)).toEqual(['/moved', '/empty']);
  });

  it('decodes a gzip body as fetch does', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('{"output":"hello"}')));
    expect(await (await agentFetch()(`${s.url}/`, post('{}'))).json()).toEqual({ output: 'hello' });
  });

  it('a cancel before the answer rejects with the reason; one while the body is read fails the read with it', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
    });
    const f = agentFetch();
    const early = new AbortController();
    const pending = f(`${s.url}/slow`, post('{}', { signal: early.signal }));
    await expect.poll(() => s.seen.length).toBe(1);
    early.abort(new Error('caller went away'));
    await expect(pending).rejects.toThrow('caller went away');

    const late = new AbortController();
    const res = await f(`${s.url}/partial`, post('{}', { signal: late.signal }));
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first part');
    late.abort(new Error('deadline passed'));
    await expect(reader.read()).rejects.toThrow('deadline passed');
  });

  it('a refused connection is TypeError "fetch failed" with the cause, as from fetch', async () => {
    const s = await serve(() => {});
    const url = s.url;
    const server = servers.pop()!;
    await new Promise((r) => server.close(r));
    const err = await agentFetch()(`${url}/`, post('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as TypeError).message).toBe('fetch failed');
    expect(((err as TypeError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('a request read on a kept-alive connection the server then drops is sent again only when idempotent: a POST reaches it once and fails', async () => {
    // Each server answers its first request (so the next one goes out on a reused socket), reads
    // the second and drops the connection before answering, and answers any later one.
    const dropsSecond = () => {
      let n = 0;
      return serve((req, res) => {
        if (++n === 2) req.socket.destroy();
        else res.end(`answer to ${n}`);
      });
    };
    const f = agentFetch();

    const posts = await dropsSecond();
    await (await f(`${posts.url}/warm`, post('{}'))).text();
    const err = await f(`${posts.url}/task`, post('{"task":1}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as TypeError).message).toBe('fetch failed');
    expect(((err as TypeError).cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(posts.seen.map((x) => `${x.method} ${x.url}`)).toEqual(['POST /warm', 'POST /task']);

    const gets = await dropsSecond();
    await (await f(`${gets.url}/warm`, { redirect: 'manual' })).text();
    expect(await (await f(`${gets.url}/read`, { redirect: 'manual' })).text()).toBe('answer to 3');
    expect(gets.seen.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /warm', 'GET /read', 'GET /read']);

    const keyed = await dropsSecond();
    await (await f(`${keyed.url}/warm`, post('{}'))).text();
    const again = await f(`${keyed.url}/write`, post('{}', { headers: { 'Idempotency-Key': 'k-1' } }));
    expect(await again.text()).toBe('answer to 3');
    expect(keyed.seen.map((x) => `${x.method} ${x.url} ${x.headers['idempotency-key']}`)).toEqual([
      'POST /warm undefined',
      'POST /write k-1',
      'POST /write k-1',
    ]);
  });

  it('keeps an idle connection for the server Keep-Alive hint, else for idleMs; a slow call on a kept one still answers', async () => {
    const idle = () => new Promise((r) => setTimeout(r, 150));
    const hinting = await serve((req, res) => setTimeout(() => res.end(`answer to ${req.url}`), req.url === '/slow' ? 300 : 0));
    const f = agentFetch({ idleMs: 50 });
    expect(await (await f(`${hinting.url}/quick`, post('{}'))).text()).toBe('answer to /quick');
    await idle();
    // Node's server says `Keep-Alive: timeout=5`: the connection outlives idleMs, and a call slower than idleMs on it is answered.
    expect(await (await f(`${hinting.url}/slow`, post('{}'))).text()).toBe('answer to /slow');
    expect(hinting.connections()).toBe(1);

    const silent = await serve((_req, res) => res.end('ok'));
    servers.at(-1)!.keepAliveTimeout = 0; // no hint sent (and no server-side idle limit)
    await (await f(`${silent.url}/`, post('{}'))).text();
    await idle();
    await (await f(`${silent.url}/`, post('{}'))).text();
    expect(silent.connections()).toBe(2);
  });

  it('hands anything else to the fallback: a followed redirect, a stream body, a Request', async () => {
    const calls: string[] = [];
    const fallback: typeof fetch = async (input) => {
      calls.push(input instanceof Request ? `Request ${input.url}` : String(input));
      return new Response('from the fallback');
    };
    const f = agentFetch({ fallback });
    await f('http://127.0.0.1:9/a', { method: 'POST', body: '{}' });
    await f('http://127.0.0.1:9/b', { method: 'POST', body: new ReadableStream(), redirect: 'manual', duplex: 'half' } as RequestInit);
    await f(new Request('http://127.0.0.1:9/c'), { redirect: 'manual' });
    expect(calls).toEqual(['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', 'Request http://127.0.0.1:9/c']);
  });
});

describe('the downstream fetch (redirects: any, as src/mcp/downstream/node-fetch.ts builds it)', () => {
  const downstreamFetch = () => createNodeFetch({ maxSockets: 256, redirects: 'any', fallback: () => Promise.reject(new Error('not sent by node:http')) });

  it('sends a request with the default redirect mode itself, a 3xx answered as it is', async () => {
    const s = await serve((_req, res) => res.writeHead(307, { location: '/elsewhere' }).end());
    const res = await downstreamFetch()(`${s.url}/mcp`, { method: 'POST', body: '{}' });
    expect([res.status, res.headers.get('location'), s.seen.length]).toEqual([307, '/elsewhere', 1]);
  });

  it('gathers a JSON answer whole, decoded, and a JSON answer cut short fails as terminated', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/gzip') res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"jsonrpc":"2.0"}'));
      else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"jsonrpc":');
        setTimeout(() => res.destroy(), 20);
      }
    });
    const f = downstreamFetch();
    expect(await (await f(`${s.url}/gzip`, { method: 'POST', body: '{}' })).json()).toEqual({ jsonrpc: '2.0' });
    await expect(f(`${s.url}/cut`, { method: 'POST', body: '{}' })).rejects.toThrow(/terminated/);
  });

  it('answers a gathered JSON body as a BufferedResponse that reads like any fetch body, once', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    const f = agentFetch();
    const first = await f(`${s.url}/a`, post('{}'));
    // Gathered: its bytes are there to take, unread.
    expect(bufferedBytesLeft(first)?.byteLength).toBe(11);
    expect(first).toBeInstanceOf(Response);
    const copy = first.clone();
    expect([await first.json(), first.bodyUsed]).toEqual([{ ok: true }, true]);
    await expect(first.text()).rejects.toThrow(/already been read/);
    expect(await copy.text()).toBe('{"ok":true}');
    expect(await new Response((await f(`${s.url}/b`, post('{}'))).body).text()).toBe('{"ok":true}');
    const bytes = await (await f(`${s.url}/c`, post('{}'))).bytes();
    const blob = await (await f(`${s.url}/d`, post('{}'))).blob();
    expect([bytes.byteLength, (await (await f(`${s.url}/e`, post('{}'))).arrayBuffer()).byteLength, blob.size, blob.type]).toEqual([
      11,
      11,
      11,
      'application/json',
    ]);
  });

  it('a BufferedResponse builds its Headers only when read, with every header the server sent, and its clone and form data see them', async () => {
    const s = await serve((_req, res) => {
      res
        .writeHead(201, [
          ['Content-Type', 'application/json'],
          ['X-Trace', 'a'],
          ['X-Trace', 'b'],
        ])
        .end('{"ok":true}');
    });
    const f = agentFetch();
    const r = await f(`${s.url}/a`, post('{}'));
    expect([r.status, r.ok, r.statusText]).toEqual([201, true, 'Created']);
    const copy = r.clone();
    expect([r.headers.get('content-type'), r.headers.get('x-trace'), copy.headers.get('x-trace')]).toEqual(['application/json', 'a, b', 'a, b']);
    // A body buffered by the provider client may be a form: read through the headers it was given.
    const form = bufferedResponse(new TextEncoder().encode('a=1&b=two'), { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(Object.fromEntries(await form.formData())).toEqual({ a: '1', b: 'two' });
  });

  it('streams a JSON body past 1 MiB from where gathering stopped, whole and in order', async () => {
    const part = `"${'x'.repeat(64 * 1024 - 3)}",`;
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      for (let i = 0; i < 48; i++) res.write(part);
      res.end('"end"]');
    });
    const res = await agentFetch()(`${s.url}/big`, post('{}'));
    expect(bufferedBytesLeft(res)).toBeUndefined();
    const items = (await res.json()) as string[];
    expect([items.length, items.at(-1), items[0]!.length]).toEqual([49, 'end', 64 * 1024 - 3]);
  });

  it("a gathered body past the caller's cap is refused at once, one within it passes as it is", async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pad: 'y'.repeat(500) })));
    const f = agentFetch();
    const reasons: unknown[] = [];
    const done = (reason?: unknown) => void reasons.push(reason);
    const over = await f(`${s.url}/over`, post('{}'));
    expect(() => capBody(over, 100, 'test api', done, (e) => e)).toThrow(/larger than 100 bytes/);
    const within = await f(`${s.url}/within`, post('{}'));
    const kept = capBody(within, 10_000, 'test api', done, (e) => e);
    expect(kept).toBe(within);
    expect(((await kept.json()) as { pad: string }).pad.length).toBe(500);
    expect(reasons.map((r) => (r === undefined ? 'done' : 'failed'))).toEqual(['failed', 'done']);
  });
});

describe('a streamed answer from the agents fetch', () => {
  it('answers a streamed body as a Response that reads like any fetch body, its web stream made only when asked for', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words'));
    const f = agentFetch();
    const first = await f(`${s.url}/a`, post('{}'));
    expect(first).toBeInstanceOf(Response);
    expect(first.bodyUsed).toBe(false);
    const copy = first.clone();
    expect([await first.text(), first.bodyUsed]).toEqual(['plain words', true]);
    await expect(first.text()).rejects.toThrow(/already been read/);
    expect(takeNodeBody(first)).toBeUndefined();
    expect(await copy.text()).toBe('plain words');
    expect(await new Response((await f(`${s.url}/b`, post('{}'))).body).text()).toBe('plain words');
    const blob = await (await f(`${s.url}/c`, post('{}'))).blob();
    expect([
      (await (await f(`${s.url}/d`, post('{}'))).bytes()).byteLength,
      await (await f(`${s.url}/e`, post('{}'))).json().catch(() => 'not json'),
      blob.type,
    ]).toEqual([11, 'not json', 'text/plain']);
    // Taken as a Node stream, the body is no longer the Response's to read.
    const taken = await f(`${s.url}/f`, post('{}'));
    expect(takeNodeBody(taken)).toBeDefined();
    expect(taken.bodyUsed).toBe(true);
    await expect(taken.text()).rejects.toThrow(/already been read/);
  });

  it('one signal over a dozen requests in flight raises no listener-leak warning, as with fetch, and still cancels them all', async () => {
    const held: ServerResponse[] = [];
    const s = await serve((_req, res) => {
      held.push(res);
      if (held.length === 12) for (const r of held) r.end('{}');
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const f = agentFetch();
      const shared = new AbortController();
      const answers = await Promise.all(Array.from({ length: 12 }, () => f(`${s.url}/a`, post('{}', { signal: shared.signal })).then((r) => r.status)));
      expect(answers).toEqual(Array(12).fill(200));
      const late = Promise.all(Array.from({ length: 3 }, () => f(`${s.url}/b`, post('{}', { signal: shared.signal })).catch((e: unknown) => e)));
      await eventually(() => (held.length === 15 ? true : undefined));
      shared.abort(new Error('the client went away'));
      expect((await late).map((e) => (e as Error).message)).toEqual(Array(3).fill('the client went away'));
      await new Promise<void>((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an event stream read to its last event leaves its connection for a later call; one cut mid-stream closes it', async () => {
    let open: ServerResponse | undefined;
    const s = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const n of [1, 2, 3]) res.write(`event: token\ndata: ${n}\n\n`);
      if (req.url === '/endless') open = res;
      else res.end('event: complete\ndata: done\n\n');
    });
    const f = agentFetch();
    const read = async (path: string, stopAt: string) => {
      const got: string[] = [];
      reading: for await (const batch of sseEventBatches(await f(`${s.url}${path}`, post('{}')), { label: 'test', idleMs: 5_000 })) {
        for (const e of batch) {
          got.push(e.data);
          if (e.data === stopAt) break reading;
        }
      }
      // The end of a stream read whole is drained in the background, a few ticks after its last
      // event: the answer does not wait for it, a later call finds the connection free.
      for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
      return got;
    };
    for (let i = 0; i < 3; i++) expect(await read('/whole', 'done')).toEqual(['1', '2', '3', 'done']);
    expect(s.connections()).toBe(1);
    expect(await read('/endless', '2')).toEqual(['1', '2']);
    await new Promise<void>((r) => (open!.writableEnded || open!.destroyed ? r() : open!.once('close', () => r())));
    expect(await read('/whole', 'done')).toEqual(['1', '2', '3', 'done']);
    expect(s.connections()).toBe(2);
  });
});

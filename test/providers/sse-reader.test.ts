/**
 * The event stream reader (src/providers/sse.ts) over the agents' own fetch, on real loopback
 * HTTP: what it hands over when the stream ends, breaks, or comes faster than it is read, and
 * where `untilAnswer` lets a reader act on what one read brought.
 */
import { type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, createGzip } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeFetch } from '../../src/providers/node-fetch.js';
import { type EventSourceMessage, sseEventBatches, untilAnswer } from '../../src/providers/sse.js';
import { headerOf } from '../../src/providers/streamed-response.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handle: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(res));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const open = (url: string) => createNodeFetch({ redirects: 'manual' })(url, { method: 'POST', body: '{}', redirect: 'manual' });
const tick = () => new Promise<void>((r) => setImmediate(r));

async function readAll(res: Response): Promise<{ data: string[]; error?: unknown }> {
  const data: string[] = [];
  try {
    for await (const batch of sseEventBatches(res, { label: 'agent a', idleMs: 5_000 })) for (const e of batch) data.push(e.data);
    return { data };
  } catch (error) {
    return { data, error };
  }
}

describe('the event stream reader', () => {
  it('hands over what came before a connection cut mid-stream, then fails rather than waiting for more', async () => {
    const url = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\ndata: 2\n\n', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const got = await readAll(await open(url));
    expect(got.data).toEqual(['1', '2']);
    expect(got.error).toBeInstanceOf(Error);
  });

  for (const gzip of [false, true]) {
    it(`fails at once with the connection's error when it broke before the reading began${gzip ? ' (gzip)' : ''}`, async () => {
      const url = await serve((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        const out = gzip ? createGzip() : undefined;
        out?.pipe(res);
        const first = 'data: 1\n\n';
        const cut = () => setTimeout(() => res.socket?.destroy(), 10);
        if (out) {
          out.write(first);
          out.flush(constants.Z_SYNC_FLUSH, cut);
        } else res.write(first, cut);
      });
      const res = await open(url);
      // The reader comes after the connection broke (nothing else runs meanwhile but the hub's own timers).
      await new Promise<void>((r) => setTimeout(r, 100));
      const read = untilAnswer(res, { label: 'agent a', idleMs: 60_000 }, () => undefined);
      await expect(read).rejects.toThrow(/aborted|Premature close/);
    });
  }

  it('keeps every event in order when they come faster than they are read', async () => {
    // ~2 MB in 2000 writes: more than a socket's buffers, so the reader falls behind and the stream waits for it.
    const pad = 'x'.repeat(1000);
    const url = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let n = 0; n < 2000; n++) res.write(`data: ${n} ${pad}\n\n`);
      res.end();
    });
    const data: number[] = [];
    for await (const batch of sseEventBatches(await open(url), { label: 'agent a', idleMs: 5_000 })) {
      for (const e of batch) data.push(Number(e.data.split(' ')[0]));
      await tick();
    }
    expect(data).toEqual(Array.from({ length: 2000 }, (_, n) => n));
  });

  it('reads a gzip-encoded stream event by event as each is flushed, and fails with the caller\u2019s reason when cancelled mid-stream', async () => {
    let server: ServerResponse | undefined;
    const url = await serve((res) => {
      server = res;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gz = createGzip();
      gz.pipe(res);
      gz.write('data: 1\n\n');
      gz.flush(constants.Z_SYNC_FLUSH);
      setTimeout(() => {
        gz.write('data: 2\n\n');
        gz.flush(constants.Z_SYNC_FLUSH);
      }, 20);
    });
    const ctl = new AbortController();
    const res = await createNodeFetch({ redirects: 'manual' })(url, { method: 'POST', body: '{}', redirect: 'manual', signal: ctl.signal });
    const data: string[] = [];
    const reading = (async () => {
      for await (const batch of sseEventBatches(res, { label: 'agent a', idleMs: 5_000 })) {
        for (const e of batch) data.push(e.data);
        if (data.length === 2) ctl.abort(new Error('the MCP request was cancelled'));
      }
    })();
    await expect(reading).rejects.toThrow('the MCP request was cancelled');
    expect(data).toEqual(['1', '2']);
    // The connection under it is closed: the server sees its response cut.
    await new Promise<void>((r) => (server!.destroyed ? r() : server!.once('close', () => r())));
  });

  it('reads a stream whose end came with its last event', async () => {
    const url = await serve((res) => {
      res.writeHead(200, { 'content-type': 'Text/Event-Stream; charset=utf-8', 'x-part': 'a' });
      res.end('event: complete\ndata: done\n\n');
    });
    const res = await open(url);
    // Read without building the response's Headers, as Headers would read it: the name in any case, repeats joined.
    expect([headerOf(res, 'content-type'), headerOf(res, 'X-Part'), headerOf(res, 'x-none')]).toEqual(['Text/Event-Stream; charset=utf-8', 'a', null]);
    expect(res.headers.get('x-part')).toBe('a');
    expect(await readAll(res)).toEqual({ data: ['done'] });
  });
});

describe('untilAnswer', () => {
  /** Two reads: three events, then (after 30 ms) two more, the second of them the answer. */
  async function twoReads(): Promise<string> {
    return serve((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: a\n\ndata: b\n\ndata: c\n\n');
      setTimeout(() => res.end('data: d\n\ndata: answer\n\n'), 30);
    });
  }

  it('calls onBatchEnd after the events of each read, the last one before the answer is returned', async () => {
    const order: string[] = [];
    const answer = await untilAnswer(
      await open(await twoReads()),
      { label: 'agent a', idleMs: 5_000, onBatchEnd: () => order.push('|') },
      (e: EventSourceMessage) => {
        order.push(e.data);
        return e.data === 'answer' ? 'got it' : undefined;
      },
    );
    expect(answer).toBe('got it');
    expect(order).toEqual(['a', 'b', 'c', '|', 'd', 'answer', '|']);
  });

  it('calls onBatchEnd before an error of onEvent ends the reading', async () => {
    const order: string[] = [];
    const reading = untilAnswer(await open(await twoReads()), { label: 'agent a', idleMs: 5_000, onBatchEnd: () => order.push('|') }, (e) => {
      order.push(e.data);
      if (e.data === 'd') throw new Error('bad event');
      return undefined;
    });
    await expect(reading).rejects.toThrow('bad event');
    expect(order).toEqual(['a', 'b', 'c', '|', 'd', '|']);
  });
});

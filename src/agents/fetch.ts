import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * The fetch the agents' provider client is given: the requests it sends (a string or bytes body,
 * `redirect: 'manual'`, since the provider client follows redirects itself) go over node:http with
 * a keep-alive agent; any other request goes to `fallback` (the global fetch). Measured with
 * `npm run bench:agents`, the global fetch cost the hub close to 1 ms of CPU per sync agent call
 * more than this does (a Request, a cloned and teed body stream — `redirect: 'manual'` makes fetch
 * clone the request —, a fetch controller and several AbortSignals, all per call).
 *
 * What it keeps of fetch (the provider client and the adapters rely on each): the headers fetch
 * adds when absent (accept, user-agent, and accept-encoding with the body decoded), a 3xx returned
 * as it is, a connection failure rejected as fetch's `TypeError('fetch failed')` with the cause,
 * and the signal's reason as the error of the request or of the body being read.
 */
export interface AgentFetchOptions {
  fallback?: typeof globalThis.fetch;
  /**
   * How long an idle connection is kept when the server gave no `Keep-Alive: timeout` hint
   * (undici's default, 4 s). With a hint it is kept for the hint less a second, as undici does
   * and node:http's agent does for a hint shorter than its timeout, so a reused connection is
   * not one the server is closing.
   */
  idleMs?: number;
}

/** RFC 9110 §15: these never carry content, and `new Response` refuses a body with them. */
const NULL_BODY = new Set([101, 204, 205, 304]);

export function agentFetch(opts: AgentFetchOptions = {}): typeof globalThis.fetch {
  const fallback = opts.fallback ?? globalThis.fetch;
  const idleMs = opts.idleMs ?? 4_000;
  // The agent's timeout caps a hint (undici's keepAliveMaxTimeout); below it node:http applies the hint itself.
  const agentOpts = { keepAlive: true, timeout: 600_000 };
  const hinted = new WeakSet<Socket>();
  const agents = { 'http:': new HttpAgent(agentOpts), 'https:': new HttpsAgent(agentOpts) };
  for (const agent of Object.values(agents)) {
    // Typed as void in @types/node, it answers whether the socket may be kept (node:http's docs).
    const keep = agent.keepSocketAlive.bind(agent) as unknown as (socket: Socket) => boolean;
    agent.keepSocketAlive = ((socket: Socket) => {
      const kept = keep(socket);
      if (kept && !hinted.has(socket)) socket.setTimeout(idleMs);
      return kept;
    }) as unknown as HttpAgent['keepSocketAlive'];
  }

  return (input, init) => {
    const url = input instanceof URL ? input : typeof input === 'string' && URL.canParse(input) ? new URL(input) : undefined;
    const body = init?.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (url === undefined || init?.redirect !== 'manual' || !plainBody || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      return fallback(input, init);
    }
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const bytes = body === undefined || body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (typeof body === 'string' && !headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
    if (!headers.has('accept')) headers.set('accept', '*/*');
    if (!headers.has('user-agent')) headers.set('user-agent', 'node');
    if (!headers.has('accept-encoding')) headers.set('accept-encoding', url.protocol === 'https:' ? 'br, gzip, deflate' : 'gzip, deflate');
    if (bytes !== undefined || !['GET', 'HEAD'].includes(method)) headers.set('content-length', String(bytes?.byteLength ?? 0));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

    return new Promise<Response>((resolve, reject) => {
      let res: IncomingMessage | undefined;
      // The listener stays until the body ends: a cancel while the body is read must still end it.
      const done = () => signal?.removeEventListener('abort', onAbort);
      const onAbort = () => {
        // Before the headers the promise rejects with the reason; after, the body stream fails with it.
        req.destroy(signal!.reason);
        res?.destroy(signal!.reason);
        reject(signal!.reason);
      };
      const req = send(url, { method, headers: Object.fromEntries(headers), agent: agents[url.protocol as 'http:' | 'https:'] }, (r) => {
        res = r;
        r.once('close', done);
        if (/^timeout=\d+/.test(String(r.headers['keep-alive'] ?? ''))) hinted.add(r.socket);
        else hinted.delete(r.socket);
        try {
          resolve(responseOf(r, method));
        } catch (err) {
          r.destroy();
          reject(new TypeError('fetch failed', { cause: err }));
        }
      });
      // One write for headers and body, sent at once (no Nagle wait for the agent's ACK).
      req.setNoDelay(true);
      req.once('error', (err) => {
        done();
        reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err }));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(bytes);
    });
  };
}

function responseOf(r: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i < r.rawHeaders.length; i += 2) headers.append(r.rawHeaders[i]!, r.rawHeaders[i + 1]!);
  const status = r.statusCode ?? 0;
  const init = { status, statusText: r.statusMessage ?? '', headers };
  if (NULL_BODY.has(status) || method === 'HEAD') {
    r.resume();
    return new Response(null, init);
  }
  return new Response(Readable.toWeb(decoded(r)) as ReadableStream<Uint8Array>, init);
}

/** Content codings fetch undoes (RFC 9110 §8.4.1); one it does not know is left as it is. */
const DECODERS: Readonly<Record<string, () => Transform>> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

/** The body with its content coding undone, as fetch does (one coding; a list of several is left as it is). */
function decoded(r: IncomingMessage): Readable {
  const make = DECODERS[(r.headers['content-encoding'] ?? '').trim().toLowerCase()];
  if (make === undefined) return r;
  const decoder = make();
  r.once('error', (err) => decoder.destroy(err));
  // A reader that stops early destroys the decoder: the socket under it must not stay half-read.
  decoder.once('close', () => {
    if (!r.complete) r.destroy();
  });
  return r.pipe(decoder);
}

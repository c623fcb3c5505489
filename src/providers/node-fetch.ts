import { defaultMaxListeners, getMaxListeners, setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { nodeHttp, nodeHttps } from '../lazy-require.js';
import { headerRecord } from './header-record.js';
import { LazyHeaders } from './lazy-headers.js';
import { decodedBody, keepAlivePool } from './keep-alive.js';
import { streamedResponse } from './streamed-response.js';

/**
 * A fetch over node:http with keep-alive, for the hub's hot HTTP paths: the MCP client's traffic
 * to downstream servers and the agents' provider client. Node's built-in fetch builds a Request, a
 * cloned and teed body stream (`redirect: 'manual'` makes it clone), a fetch controller and several
 * AbortSignals per call: on the proxy path this measured about a third less CPU per downstream call
 * (`npm run bench:proxy`), for agents close to 1 ms less per sync call (`npm run bench:agents`).
 *
 * What it keeps of fetch (its callers rely on each): the headers fetch adds when absent (accept,
 * user-agent, and accept-encoding with the body decoded), a 3xx returned as it is, a connection
 * failure rejected as fetch's `TypeError('fetch failed')` with the cause, and the signal's reason
 * as the error of the request or of the body being read. Anything it does not send itself (a
 * Request, a stream body, another scheme) goes to `fallback`.
 */
export interface NodeFetchOptions {
  fallback?: typeof globalThis.fetch;
  /** Sockets per origin; the downstream pool caps them so one busy server cannot take every fd. */
  maxSockets?: number;
  /**
   * How long an idle connection is kept when the server gave no `Keep-Alive: timeout` hint
   * (undici's default, 4 s). With a hint it is kept for the hint less a second, as undici does
   * and node:http's agent does for a hint shorter than its timeout, so a reused connection is
   * not one the server is closing.
   */
  idleMs?: number;
  /**
   * Which requests it sends itself. 'manual': only `redirect: 'manual'` ones (the provider client
   * follows redirects itself; a followed one goes to the fallback). 'any': every redirect mode, a
   * 3xx answered as it is (the MCP client has no use for a redirect of its endpoint).
   */
  redirects?: 'manual' | 'any';
}

/**
 * RFC 9110 §9.2.2: the methods whose repeat has the effect of one request, so a request the server
 * may have read can be sent again. Any other carries an `Idempotency-Key` to be resent
 * (draft-ietf-httpapi-idempotency-key-header: the server applies a key once).
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** RFC 9110 §15: these never carry content, and `new Response` refuses a body with them. */
const NULL_BODY = new Set([101, 204, 205, 304]);

export function createNodeFetch(opts: NodeFetchOptions = {}): typeof globalThis.fetch {
  const fallback = opts.fallback ?? globalThis.fetch;
  const idleMs = opts.idleMs ?? 4_000;
  const pool = keepAlivePool({ maxSockets: opts.maxSockets ?? Number.POSITIVE_INFINITY, idleMs });
  const anyRedirect = opts.redirects === 'any';

  return (input, init) => {
    const url = input instanceof URL ? input : typeof input === 'string' && URL.canParse(input) ? new URL(input) : undefined;
    const body = init?.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    const redirectOk = anyRedirect || init?.redirect === 'manual';
    if (url === undefined || !redirectOk || !plainBody || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      return fallback(input, init);
    }
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = headerRecord(init?.headers);
    const bytes = body === undefined || body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (typeof body === 'string' && headers['content-type'] === undefined) headers['content-type'] = 'text/plain;charset=UTF-8';
    headers['accept'] ??= '*/*';
    headers['user-agent'] ??= 'node';
    headers['accept-encoding'] ??= url.protocol === 'https:' ? 'br, gzip, deflate' : 'gzip, deflate';
    if (bytes !== undefined || !['GET', 'HEAD'].includes(method)) headers['content-length'] = String(bytes?.byteLength ?? 0);
    const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
    const request = protocol === 'https:' ? nodeHttps().request : nodeHttp().request;
    const options = { method, headers, agent: pool.agent(protocol) };
    const resendable = IDEMPOTENT.has(method) || headers['idempotency-key'] !== undefined;

    return new Promise<Response>((resolve, reject) => {
      const send = (retried: boolean): void => {
        let res: IncomingMessage | undefined;
        // The listener stays until the body ends: a cancel while the body is read must still end it.
        const done = () => signal?.removeEventListener('abort', onAbort);
        const onAbort = () => {
          // Before the headers the promise rejects with the reason; after, the body stream fails with it.
          req.destroy(signal!.reason);
          res?.destroy(signal!.reason);
          reject(signal!.reason);
        };
        const req = request(url, options, (r) => {
          res = r;
          r.once('close', done);
          pool.noteHint(r);
          try {
            respond(r, method, signal, resolve, reject);
          } catch (err) {
            r.destroy();
            reject(new TypeError('fetch failed', { cause: err }));
          }
        });
        // One write for headers and body, sent at once (no Nagle wait for the server's ACK).
        req.setNoDelay(true);
        req.once('error', (err: NodeJS.ErrnoException) => {
          done();
          // A kept-alive socket the server closed while idle fails the next request sent on it
          // (ECONNRESET, EPIPE) before the server read it; Node's documented remedy is to send it
          // again once on a new connection (http.ClientRequest#reusedSocket), for idempotent
          // requests only: the same errors come from a server that read the request and then
          // dropped the connection, and a second POST (an agent's task submit) would run it twice.
          if (!retried && resendable && res === undefined && req.reusedSocket && !signal?.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
            send(true);
          else reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err }));
        });
        if (signal !== undefined) {
          // As fetch does (undici raises it to 1500): one signal may cover many requests in flight,
          // such as the SDK transport's for every request to a downstream; more than ten at once
          // is load, and Node's listener-leak warning would tell an operator otherwise.
          if (getMaxListeners(signal) === defaultMaxListeners) setMaxListeners(1500, signal);
          signal.addEventListener('abort', onAbort, { once: true });
        }
        req.end(bytes);
      };
      send(false);
    });
  };
}

function respond(r: IncomingMessage, method: string, signal: AbortSignal | undefined, resolve: (r: Response) => void, reject: (e: unknown) => void): void {
  // As pairs: the Response builds its one Headers from them (a Headers here was copied again).
  const headers: [string, string][] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) headers.push([r.rawHeaders[i]!, r.rawHeaders[i + 1]!]);
  const status = r.statusCode ?? 0;
  const init = { status, statusText: r.statusMessage ?? '', headers };
  if (NULL_BODY.has(status) || method === 'HEAD') {
    r.resume();
    resolve(new Response(null, init));
    return;
  }
  const body = decodedBody(r);
  if (!isJson(r.headers['content-type'])) {
    // Read later, by whoever takes the body: an error before then (a gzip decoder's, when the
    // connection breaks) is kept by the stream (`errored`) for its reader; unheard, it would
    // be thrown as an uncaught exception and stop the hub.
    body.on('error', () => {});
    resolve(streamedResponse(body, init));
    return;
  }
  // A JSON answer is read whole by its reader anyway: gathered here it needs no web stream
  // (Readable.toWeb and its reader were ~4 % of the hub's CPU per proxied call). Only up to
  // MAX_GATHERED_BYTES decoded: past that it streams from where gathering stopped, so the caller's
  // size cap still bounds memory (a small gzip body may inflate to far more).
  const chunks: Buffer[] = [];
  let size = 0;
  let streaming = false;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size <= MAX_GATHERED_BYTES) return;
    streaming = true;
    body.off('data', onData);
    body.pause();
    resolve(new Response(Readable.toWeb(Readable.from(replayed(chunks, body))) as ReadableStream<Uint8Array>, init));
  };
  body.on('data', onData);
  body.once('end', () => {
    if (!streaming) resolve(bufferedResponse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>, init));
  });
  body.once('error', (err) => {
    if (!streaming) reject(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: err }));
  });
  r.once('close', () => {
    if (!r.complete && !streaming) reject(signal?.aborted ? signal.reason : new TypeError('terminated: the response ended before its body was complete'));
  });
}

/** What was gathered, then the rest of the body. */
async function* replayed(first: readonly Buffer[], rest: Readable): AsyncGenerator<Buffer> {
  yield* first;
  for await (const chunk of rest) yield chunk as Buffer;
}

/** The most of a JSON body gathered whole (1 MiB, decoded); a larger one streams. */
const MAX_GATHERED_BYTES = 1024 * 1024;

/**
 * A Response whose body is already in memory, read without a web stream: the Response
 * constructor wraps any body in a ReadableStream, and reading it back went through that stream,
 * which cost a sync agent call ~0.8 ms between its answer's headers and its parsed JSON on a
 * small VM. `body` builds the stream only for a caller that asks for it, and `headers` their
 * Headers only for one that reads them (an agent's answer is read by its status and body).
 *
 * Defined on first use: `extends Response` reads the global, which loads Node's fetch (undici,
 * ~40 ms) in the middle of `switchboard stdio`'s start-up, before any request is sent.
 */
function defineBufferedResponse() {
  class BufferedResponse extends Response {
    #bytes: Uint8Array<ArrayBuffer> | undefined;
    #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
    /** The headers as given, until someone reads them: most callers look at the status and the body only. */
    readonly #lazy: LazyHeaders;

    constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
      const { headers, ...rest } = init;
      super(null, rest);
      this.#bytes = bytes;
      this.#lazy = new LazyHeaders(headers);
    }

    override get headers(): Headers {
      return this.#lazy.headers;
    }

    /** The whole body, or undefined once read or streamed. */
    get bytesLeft(): Uint8Array<ArrayBuffer> | undefined {
      return this.#bytes;
    }

    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      if (this.#stream === undefined) {
        // Read already (text(), json(), …): a stream with nothing left, as a read fetch body is.
        const bytes = this.#bytes ?? new Uint8Array(0);
        this.#bytes = undefined;
        this.#stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
          start(ctl) {
            if (bytes.byteLength > 0) ctl.enqueue(bytes);
            ctl.close();
          },
        });
      }
      return this.#stream;
    }

    override get bodyUsed(): boolean {
      return this.#bytes === undefined && (this.#stream === undefined || this.#stream.locked);
    }

    override async arrayBuffer(): Promise<ArrayBuffer> {
      const b = await this.bytes();
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }

    override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
      if (this.#stream !== undefined) return new Uint8Array(await new Response(this.#stream).arrayBuffer());
      // A copy, as fetch gives: the gathered chunk may be a view into a larger buffer.
      return new Uint8Array(this.#take());
    }

    override async text(): Promise<string> {
      if (this.#stream !== undefined) return new Response(this.#stream).text();
      return new TextDecoder().decode(this.#take());
    }

    override async json(): Promise<unknown> {
      return JSON.parse(await this.text());
    }

    override async blob(): Promise<Blob> {
      return new Blob([await this.bytes()], { type: this.headers.get('content-type') ?? '' });
    }

    // Read through a plain Response: the body's type is in the headers, which `super` was not given.
    override async formData(): Promise<FormData> {
      return new Response(await this.bytes(), { headers: this.headers }).formData();
    }

    override clone(): Response {
      if (this.#bytes === undefined) throw new TypeError('Response.clone: Body has already been consumed.');
      return new BufferedResponse(this.#bytes.slice(), { status: this.status, statusText: this.statusText, headers: this.headers });
    }

    #take(): Uint8Array<ArrayBuffer> {
      const bytes = this.#bytes;
      if (bytes === undefined) throw new TypeError('Body is unusable: Body has already been read');
      this.#bytes = undefined;
      return bytes;
    }
  }
  return BufferedResponse;
}

let bufferedClass: ReturnType<typeof defineBufferedResponse> | undefined;

/** A Response over bytes already read, without a web stream (see defineBufferedResponse). */
export function bufferedResponse(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit): Response {
  bufferedClass ??= defineBufferedResponse();
  return new bufferedClass(bytes, init);
}

/** The whole body of a buffered response not read yet, else undefined (a streamed one, or one read). */
export function bufferedBytesLeft(res: Response): Uint8Array<ArrayBuffer> | undefined {
  return bufferedClass !== undefined && res instanceof bufferedClass ? res.bytesLeft : undefined;
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\b/i.test(contentType.trimStart());
}

import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { urlToHttpOptions } from 'node:url';
import { decodedBody, keepAlivePool } from '../../providers/keep-alive.js';

/**
 * The POST of a downstream tools/call, on node:http without fetch's Request and Response objects:
 * the transport reads the answer's status and headers and then its body as bytes or as an SSE
 * stream, and a Response per call (its Headers, its body stream) was a good part of the hub's CPU
 * per proxied call. It keeps what the hub's node fetch (src/providers/node-fetch.ts) does on this
 * path: keep-alive sockets capped per origin, an idle socket kept no longer than the server's
 * `Keep-Alive: timeout` hint less a second (undici's rule) or 4 s without one, one resend on a new
 * socket when a reused one was closed by the server before it read the request, the headers fetch
 * adds (user-agent, accept-encoding, content-length) and the body's content coding undone.
 * A connection failure rejects as fetch's `TypeError('fetch failed')`, an abort with the signal's reason.
 */
export interface PostAnswer {
  status: number;
  statusText: string;
  headers: IncomingMessage['headers'];
  /** The body, decoded; it must be read or destroyed. */
  body: Readable;
  /** The raw message, for its rawHeaders. */
  message: IncomingMessage;
}

const pool = keepAlivePool({ maxSockets: 256, idleMs: 4_000 });

/** Where POSTs go: the endpoint's request options, worked out once rather than from its URL per call. */
export interface Endpoint {
  https: boolean;
  options: RequestOptions;
}

export function endpointOf(url: URL): Endpoint {
  const https = url.protocol === 'https:';
  return { https, options: { ...urlToHttpOptions(url), method: 'POST', agent: pool.agent(https ? 'https:' : 'http:') } };
}

/** The first of `signals` that is aborted, if any. */
export function abortedOf(signals: readonly AbortSignal[]): AbortSignal | undefined {
  for (const s of signals) if (s.aborted) return s;
  return undefined;
}

/**
 * Sends one POST; resolves with the answer once its headers arrived. Any of `signals` aborts it
 * with its reason, before the headers or while the body is read (a combined signal per call,
 * `AbortSignal.any`, cost more than a listener on each).
 */
export function post(to: Endpoint, headers: Record<string, string>, body: Buffer, signals: readonly AbortSignal[]): Promise<PostAnswer> {
  const early = abortedOf(signals);
  if (early) return Promise.reject(early.reason);
  const sent: OutgoingHttpHeaders = { 'user-agent': 'node', 'accept-encoding': to.https ? 'br, gzip, deflate' : 'gzip, deflate', ...headers };
  sent['content-length'] = String(body.byteLength);
  const options: RequestOptions = { ...to.options, headers: sent };
  const request = to.https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const send = (retried: boolean): void => {
      let answered: IncomingMessage | undefined;
      const done = () => {
        for (const s of signals) s.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        const reason = abortedOf(signals)?.reason;
        req.destroy(reason);
        answered?.destroy(reason);
        reject(reason);
      };
      const req = request(options, (res) => {
        answered = res;
        res.once('close', done);
        pool.noteHint(res);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: decodedBody(res), message: res });
      });
      // One write for headers and body, sent at once (no Nagle wait for the server's ACK).
      req.setNoDelay(true);
      req.once('error', (err: NodeJS.ErrnoException) => {
        done();
        // A kept-alive socket the server closed while idle (or a server that restarted) fails the next
        // request on it before the server read it; Node's documented remedy is one resend on a new
        // connection (reusedSocket). Kept for this POST although it is not idempotent (an agent's is
        // not sent again: src/providers/node-fetch.ts): a server that read the call and dropped the
        // connection has crashed, and a 2025 session it forgot has the call sent again on a new one
        // anyway, while a restarted server's stale socket is the common case.
        const aborted = abortedOf(signals);
        if (!retried && answered === undefined && req.reusedSocket && !aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) send(true);
        else reject(aborted ? aborted.reason : new TypeError('fetch failed', { cause: err }));
      });
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      req.end(body);
    };
    send(false);
  });
}

/** Reads a whole body as text; rejects as fetch's body read does when the body breaks off. */
export function readText(body: Readable, signals: readonly AbortSignal[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const fail = (err: unknown) => {
      const aborted = abortedOf(signals);
      reject(aborted ? aborted.reason : new TypeError('terminated', { cause: err }));
    };
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')));
    body.once('error', fail);
    body.once('close', () => {
      if (!body.readableEnded) fail(new Error('the response ended before its body was complete'));
    });
  });
}

import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

// Keep-alive pools shared by every downstream client: a tool call should not pay a TCP handshake.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/**
 * A fetch for the hub's own MCP client traffic over node:http with keep-alive. Node's built-in
 * fetch builds a chain of web objects per request; on the proxy hot path this measured about a
 * third less CPU per downstream call. Anything it does not handle (Request inputs, non-text
 * bodies) goes to the built-in fetch.
 */
export function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  if (input instanceof Request || !(body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array)) return fetch(input, init);
  const url = new URL(input);
  const agent = agents[url.protocol as keyof typeof agents];
  if (!agent) return fetch(input, init);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  for (const [k, v] of init.headers instanceof Headers ? init.headers : new Headers(init.headers)) headers[k] = v;
  const signal = init.signal ?? undefined;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new DOMException('This operation was aborted', 'AbortError'));
    const send = (retried: boolean): void => {
      let answered = false;
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent }, (res) => {
        answered = true;
        respond(res, method, signal, resolve, reject);
      });
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => signal?.removeEventListener('abort', onAbort));
      req.once('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while idle fails the next request sent on it
        // (ECONNRESET, "socket hang up") before the server read it; Node's documented remedy is
        // to send it again once on a new connection (http.ClientRequest#reusedSocket).
        if (!retried && !answered && req.reusedSocket && !signal?.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) send(true);
        else reject(err);
      });
      req.end(body ?? undefined);
    };
    send(false);
  });
}

function respond(
  res: http.IncomingMessage,
  method: string,
  signal: AbortSignal | undefined,
  resolve: (r: Response) => void,
  reject: (e: unknown) => void,
): void {
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) out.append(k, item);
  }
  const status = res.statusCode ?? 502;
  const responseInit = { status, statusText: res.statusMessage ?? '', headers: out };
  const empty = method === 'HEAD' || status === 204 || status === 304;
  if (empty) {
    res.resume();
    resolve(new Response(null, responseInit));
  } else if (isJson(res.headers['content-type'])) {
    // A JSON answer is read whole by its reader anyway: gathered here it needs no web stream
    // (Readable.toWeb and its reader were ~4 % of the hub's CPU per proxied call).
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(new Response((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>, responseInit)));
    res.once('error', reject);
    res.once('close', () => {
      if (!res.complete)
        reject(
          signal?.aborted
            ? (signal.reason ?? new DOMException('This operation was aborted', 'AbortError'))
            : new TypeError('terminated: the response ended before its body was complete'),
        );
    });
  } else {
    resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, responseInit));
  }
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\b/i.test(contentType.trimStart());
}

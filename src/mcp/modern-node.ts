import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo, McpHttpHandler } from '@modelcontextprotocol/server';
import { isRecord } from '../is-record.js';
import { withHubErrorCode } from './http-error-code.js';

/** A web-standard MCP endpoint: the SDK's 2026-era handler, or a 2025 session's transport. */
export type WebServe = (request: Request, extra: { authInfo?: AuthInfo; parsedBody?: unknown }) => Promise<Response>;

export type NodeServe = (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, parsedBody: unknown) => Promise<void>;

/** The SDK's 2026-07-28 handler served from Node (see `webNodeHandler`). */
export function modernNodeHandler(handler: McpHttpHandler, onerror: (err: Error) => void): NodeServe {
  return webNodeHandler((request, extra) => handler.fetch(request, extra), onerror);
}

/**
 * Serves a web-standard MCP endpoint from Node for a request whose body express already parsed,
 * like the SDK's `toNodeHandler` and its Node session transport but without their per-request
 * copies: the SDK classifies and dispatches from `parsedBody` and never reads the Request's body,
 * so none is built (the SDK's adapters re-serialise the parsed body into a web stream, and the
 * session transport builds a request listener per request), and a JSON answer is written in one
 * piece instead of being pumped chunk by chunk through a web stream reader. SSE answers stream,
 * honouring backpressure, and are cancelled the moment the client goes away, so the SDK frees the
 * stream (a 2025 session allows one standalone stream: one left behind would refuse the client's
 * reconnect). Measured on the proxy hot path, the copies and the pump were ~5 % of the hub's CPU
 * per 2026 call.
 */
export function webNodeHandler(serve: WebServe, onerror: (err: Error) => void): NodeServe {
  return async (req, res, parsedBody) => {
    let finished = false;
    const abort = new AbortController();
    res.on('close', () => {
      if (!finished) abort.abort();
    });
    if (res.destroyed) abort.abort();
    let response: Response;
    try {
      response = await serve(toBodylessRequest(req, abort.signal), {
        ...(req.auth !== undefined && { authInfo: req.auth }),
        ...(parsedBody !== undefined && { parsedBody }),
      });
    } catch (error) {
      try {
        onerror(error instanceof Error ? error : new Error(String(error)));
      } catch {
        // an observer's failure must not replace the answer
      }
      response = Response.json(
        { jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: echoableRequestId(parsedBody) },
        { status: 500 },
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of response.headers) headers[name] = value;
    if (response.body === null) {
      res.writeHead(response.status, headers);
      finished = true;
      res.end();
      return;
    }
    if (!isEventStream(headers['content-type'])) {
      // A complete answer (JSON): one write, no stream reader.
      let bytes: Buffer = Buffer.from(await response.arrayBuffer());
      if (response.status >= 400) {
        bytes = withHubErrorCode(bytes, response.status);
        if (headers['content-length'] !== undefined) headers['content-length'] = String(bytes.byteLength);
      }
      res.writeHead(response.status, headers);
      finished = true;
      res.end(bytes);
      return;
    }
    res.writeHead(response.status, headers);
    await pump(response.body, res, abort.signal, req.method === 'GET');
    finished = true;
    res.end();
  };
}

/** The SDK's priming event: an id (and retry) with empty data, nothing a client acts on. */
function isPrimingEvent(chunk: Uint8Array): boolean {
  if (chunk.length > 256) return false;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1').endsWith('data: \n\n');
}

const ERROR_KEY = Buffer.from('"error":');
const LONE_EVENT = /^event: message\nid: [^\n]*\ndata: ([^\n]*)\n\n$/;

/**
 * A JSON-RPC error answer as an event without its id, or undefined for any other event. A 1.x SDK
 * client waits for a result and resumes a stream that ended without one from its last event id:
 * given an id on a POST stream whose only event is an error, it resumed the finished stream, then
 * opened a second GET stream and got 409 Conflict, on every error (an unknown tool, a bad
 * argument). With no id anywhere on that stream it has nothing to resume.
 */
function errorWithoutId(chunk: Uint8Array): Uint8Array | undefined {
  if (chunk.length > 65_536) return undefined;
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // Every POST stream's first event passes here: a result is told apart by a byte search, unparsed.
  if (bytes.indexOf(ERROR_KEY) < 0) return undefined;
  const m = LONE_EVENT.exec(bytes.toString('utf8'));
  if (!m) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(m[1]!);
  } catch {
    return undefined;
  }
  if (!isRecord(message) || !('error' in message) || 'method' in message || 'result' in message) return undefined;
  return Buffer.from(`event: message\ndata: ${m[1]}\n\n`);
}

function isEventStream(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().includes('text/event-stream') === true;
}

/**
 * How long the start of a POST's event stream (its headers and the priming event) may wait for
 * the next event. Every write to a socket is a system call that wakes the reader; on a small VM
 * the hub spent a third of its CPU per agent call in them. A call answered within the window has
 * its headers, priming event and result leave in one write; a longer one starts its stream after
 * the window. Events written in one tick always leave together. A client reads nothing from the
 * headers or the priming event until an event follows (the priming event only serves a resume), so
 * the wait costs it nothing; a second keeps a long call's stream from looking dead to a proxy.
 * 20 ms left a 50 ms agent call at 5.5 writes and 6.4 ms of hub CPU; 1 s, 4.5 and 5.1 ms.
 */
export const STREAM_START_HOLD_MS = 1_000;

/**
 * An SSE answer, honouring backpressure. The socket is corked while events are collected: a POST
 * stream's start (headers and priming event) for up to STREAM_START_HOLD_MS or until a real event
 * follows, then each tick's events until the end of that tick. A standalone GET stream starts at
 * once: its client learns the stream is open. The client going away cancels the stream at once,
 * even while it waits for its next event.
 */
async function pump(body: ReadableStream<Uint8Array>, res: ServerResponse, signal: AbortSignal, standalone: boolean): Promise<void> {
  let drainResolve: (() => void) | undefined;
  res.on('drain', () => {
    drainResolve?.();
    drainResolve = undefined;
  });
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  const closed = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  signal.addEventListener('abort', cancel, { once: true });
  if (signal.aborted) cancel();
  let corked = false;
  let holding: NodeJS.Timeout | undefined;
  /** The priming event, held back unwritten while the stream's start waits: an error answer next goes without it. */
  let primed: Uint8Array | undefined;
  let begun = false;
  const writePrimed = () => {
    if (primed) res.write(primed);
    primed = undefined;
  };
  const uncork = () => {
    if (!corked) return;
    corked = false;
    res.uncork();
  };
  /** From now on, what one tick writes leaves at the end of that tick. */
  const release = () => {
    if (holding) clearTimeout(holding);
    holding = undefined;
    setImmediate(uncork);
  };
  if (standalone) res.flushHeaders();
  else {
    corked = true;
    res.cork();
    holding = setTimeout(() => {
      holding = undefined;
      writePrimed();
      uncork();
      // A call with nothing to say yet: its client learns the stream is open.
      if (!res.headersSent) res.flushHeaders();
    }, STREAM_START_HOLD_MS);
  }
  try {
    for (;;) {
      const read = await reader.read();
      if (read.done || signal.aborted) break;
      let value = read.value;
      const first = !begun;
      begun = true;
      if (holding && first && isPrimingEvent(value)) {
        primed = value;
        continue;
      }
      if (primed) {
        const lone = errorWithoutId(value);
        if (lone) {
          primed = undefined;
          value = lone;
        }
      }
      // Only a priming event is held back for what follows it; anything else leaves this tick.
      if (holding && !isPrimingEvent(value)) release();
      writePrimed();
      if (!corked) {
        corked = true;
        res.cork();
        if (!holding) setImmediate(uncork);
      }
      if (!res.write(value)) {
        if (holding) release();
        uncork();
        await Promise.race([new Promise<void>((resolve) => (drainResolve = resolve)), closed]);
      }
    }
  } catch {
    // the stream failed or was cancelled: end the response as the SDK's adapter does
  } finally {
    signal.removeEventListener('abort', cancel);
    if (holding) clearTimeout(holding);
    // A stream that ends with nothing after its priming event keeps it: the client resumes from it.
    if (!signal.aborted) writePrimed();
    // The caller's end() uncorks fully (node's OutgoingMessage.end): what is still corked leaves
    // with the end of the stream, in one write.
    corked = false;
  }
}

/** The Request the SDK handler reads headers, method, URL and signal from; the body travels as `parsedBody`. */
function toBodylessRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const host = first(req.headers['host']) ?? first(req.headers[':authority']) ?? 'localhost';
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    // No body is attached, so headers describing the received one would describe nothing.
    if (value === undefined || name.startsWith(':') || name === 'content-length' || name === 'content-encoding' || name === 'transfer-encoding') continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return new Request(`http://${host}${req.url ?? '/'}`, { method: (req.method ?? 'POST').toUpperCase(), headers, signal });
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The id a 500 may echo: only a request's (one with a method), as the SDK's adapter does. */
function echoableRequestId(body: unknown): string | number | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const { method, id } = body as { method?: unknown; id?: unknown };
  if (typeof method !== 'string') return null;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
